"""Reruns reuse final answers (issue 8, point 2): an answer fetched more than
BAMBOO_REFETCH_DAYS days after its day ended is not fetched again unless the run asks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from bamboo_assets.refetch import is_final
from bamboo_assets.resources.warehouse import PostgresWarehouse
from bamboo_assets_tests.faults import Answers
from bamboo_assets_tests.helpers import (
    digests,
    fake_api_resources,
    materialize_days,
    query,
)
from bamboo_assets_tests.servers import FakeStatisticsApi, Reply

KEY = "sk-rerun-77a0"
FIRST, LAST, BAD = "2025-02-01", "2025-02-20", "2025-02-10"
REFETCH = {"ops": {"raw_attempts": {"config": {"refetch": True}}}}


@pytest.fixture
def api() -> Iterator[FakeStatisticsApi]:
    with FakeStatisticsApi(Answers(), client_key=KEY) as server:
        yield server


@pytest.fixture
def resources(api: FakeStatisticsApi, bamboo_home: Path, warehouse: PostgresWarehouse) -> dict:
    return fake_api_resources(bamboo_home, warehouse, api.url, KEY)


def per_day(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """raw_attempts' per-day table, as its asset page shows it."""
    event = result.asset_materializations_for_node("raw_attempts")[0]
    return {row.data["day"]: row.data for row in event.metadata["per_day"].value.records}


def fetched_days(api: FakeStatisticsApi, since: int) -> list[str]:
    return sorted(params["start"][:10] for params in api.requests[since:])


def test_the_rerun_after_the_api_recovers_calls_it_once_and_reuses_19_final_answers(
    api: FakeStatisticsApi, resources: dict, database_dsn: str, bamboo_home: Path
) -> None:
    api.fail_day(BAD, Reply(503))
    began = datetime.now(UTC).replace(microsecond=0)  # shown to the second
    assert not materialize_days(FIRST, LAST, resources).success
    api.fail_day(BAD, None)  # the API recovers

    before = len(api.requests)
    rerun = materialize_days(FIRST, LAST, resources)

    assert rerun.success
    assert fetched_days(api, before) == [BAD]
    days = per_day(rerun)
    assert days.pop(BAD)["answer"] == "fetched"
    assert len(days) == 19 and {row["answer"] for row in days.values()} == {"reused"}
    for row in days.values():  # when each reused answer was fetched: by the first run
        assert began <= datetime.fromisoformat(row["fetched_at"]) <= datetime.now(UTC)
    loaded = query(database_dsn, "SELECT count(DISTINCT created_at::date) FROM public.solutions")
    assert loaded == [(20,)]
    assert "Days that failed" not in digests(bamboo_home)[-1]


@pytest.mark.parametrize(
    "ask",
    [{"run_config": REFETCH}, {"tags": {"bamboo/refetch": "true"}}],
    ids=["run-config", "tag"],
)
def test_a_run_asking_for_a_refetch_calls_the_api_for_every_day(
    api: FakeStatisticsApi, resources: dict, ask: dict
) -> None:
    assert materialize_days(FIRST, "2025-02-02", resources).success
    before = len(api.requests)
    assert materialize_days(FIRST, "2025-02-02", resources).success
    assert fetched_days(api, before) == []  # final: reused

    again = materialize_days(FIRST, "2025-02-02", resources, **ask)

    assert again.success
    assert fetched_days(api, before) == [FIRST, "2025-02-02"]
    assert {row["answer"] for row in per_day(again).values()} == {"fetched"}


def test_an_answer_is_final_once_fetched_more_than_the_refetch_window_after_its_day_ended() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    day = date(2025, 3, 5)
    ended = datetime(2025, 3, 6, tzinfo=moscow)
    assert not is_final(day, ended + timedelta(days=1), 1, moscow)  # inside the window
    assert is_final(day, ended + timedelta(days=1, seconds=1), 1, moscow)
    assert not is_final(day, ended - timedelta(hours=1), 0, moscow)  # fetched before it ended
    assert is_final(day, datetime(2025, 3, 5, 21, 0, 1, tzinfo=UTC), 0, moscow)  # 00:00:01 MSK
