"""Reruns reuse final answers: an answer fetched more than BAMBOO_REFETCH_DAYS days after its
day ended is not fetched again unless the run asks (config `refetch`, or tag bamboo/refetch)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from bamboo_assets.core.refetch import is_final
from bamboo_assets_tests.servers import FakeStatisticsApi, Reply
from bamboo_assets_tests.support.bamboo import Bamboo, day_metadata, days, digests, query

FIRST, LAST, BAD = "2025-02-01", "2025-02-05", "2025-02-03"
REFETCH = {"ops": {"bamboo_pipeline": {"config": {"refetch": True}}}}


def answers(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """raw_attempts' page for each day of the run: how its answer was had, and when."""
    return day_metadata(result, "raw_attempts")


def fetched_days(api: FakeStatisticsApi, since: int) -> list[str]:
    return sorted(params["start"][:10] for params in api.requests[since:])


def test_the_rerun_after_the_api_recovers_calls_it_once_and_reuses_the_other_final_answers(
    api: FakeStatisticsApi, bamboo: Bamboo, database_dsn: str, bamboo_home: Path
) -> None:
    api.fail_day(BAD, Reply(503))
    began = datetime.now(UTC).replace(microsecond=0)  # shown to the second
    assert not bamboo.run(FIRST, LAST).success
    api.fail_day(BAD, None)  # the API recovers

    before = len(api.requests)
    rerun = bamboo.run(FIRST, LAST)

    assert rerun.success
    assert fetched_days(api, before) == [BAD]
    shown = answers(rerun)
    assert sorted(shown) == days(FIRST, LAST)
    assert shown.pop(BAD)["answer"] == "fetched"
    assert len(shown) == 4 and {row["answer"] for row in shown.values()} == {"reused (final)"}
    for row in shown.values():  # when each reused answer was fetched: by the first run
        assert began <= datetime.fromisoformat(row["fetched_at"]) <= datetime.now(UTC)
    loaded = query(database_dsn, "SELECT count(DISTINCT created_at::date) FROM public.solutions")
    assert loaded == [(5,)]
    assert "Days that failed" not in digests(bamboo_home)[-1]


def test_a_run_asking_for_a_refetch_calls_the_api_for_every_day(
    api: FakeStatisticsApi, bamboo: Bamboo
) -> None:
    second = "2025-02-02"
    assert bamboo.run(FIRST, second).success
    before = len(api.requests)
    assert bamboo.run(FIRST, second).success
    assert fetched_days(api, before) == []  # final: reused

    # Asked by the run config (the launchpad's), or by the tag bamboo/refetch=true.
    for ask in ({"run_config": REFETCH}, {"tags": {"bamboo/refetch": "true"}}):
        before = len(api.requests)
        again = bamboo.run(FIRST, second, **ask)

        assert again.success
        assert fetched_days(api, before) == [FIRST, second], ask
        assert {row["answer"] for row in answers(again).values()} == {"fetched"}


def test_an_answer_is_final_once_fetched_more_than_the_refetch_window_after_its_day_ended() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    day = date(2025, 3, 5)
    ended = datetime(2025, 3, 6, tzinfo=moscow)
    assert not is_final(day, ended + timedelta(days=1), 1, moscow)  # inside the window
    assert is_final(day, ended + timedelta(days=1, seconds=1), 1, moscow)
    assert not is_final(day, ended - timedelta(hours=1), 0, moscow)  # fetched before it ended
    assert is_final(day, datetime(2025, 3, 5, 21, 0, 1, tzinfo=UTC), 0, moscow)  # 00:00:01 MSK
