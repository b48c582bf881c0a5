"""Late records (issue 8, point 5): a day fetched again says how many records are new since
the previous fetch and how many the API no longer returns; those stay in public.solutions."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bamboo_assets.refetch import late_records
from bamboo_assets.resources.warehouse import PostgresWarehouse
from bamboo_assets_tests.faults import Answers, answer_of, simulated
from bamboo_assets_tests.helpers import digests, fake_api_resources, materialize_days, query
from bamboo_assets_tests.servers import FakeStatisticsApi

KEY = "sk-late-4c2a"
DAY = date(2025, 3, 5)
REFETCH = {"ops": {"raw_attempts": {"config": {"refetch": True}}}}


def test_late_records_compares_the_exact_records_of_two_answers() -> None:
    before = answer_of([{"a": 1}, {"a": 2}, {"a": 2}, {"a": 3}])
    after = answer_of([{"a": 2}, {"a": 3}, {"a": 4}, {"a": 5}, {"a": 3}])
    assert late_records(io.BytesIO(before), io.BytesIO(after)) == (3, 2)  # +4 +5 +3, -1 -2
    assert late_records(io.BytesIO(before), io.BytesIO(before)) == (0, 0)


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def api(answers: Answers) -> Iterator[FakeStatisticsApi]:
    with FakeStatisticsApi(answers, client_key=KEY) as server:
        yield server


def test_a_day_fetched_again_counts_new_and_vanished_records_and_keeps_the_vanished(
    api: FakeStatisticsApi,
    answers: Answers,
    bamboo_home: Path,
    warehouse: PostgresWarehouse,
    database_dsn: str,
) -> None:
    resources = fake_api_resources(bamboo_home, warehouse, api.url, KEY)
    records = json.loads(simulated(DAY, 30))
    first = materialize_days(str(DAY), str(DAY), resources)
    assert first.success
    (row,) = (
        first.asset_materializations_for_node("raw_attempts")[0].metadata["per_day"].value.records
    )
    assert (row.data["new_records"], row.data["gone_records"]) == (None, None)  # first fetch
    loaded = query(database_dsn, "SELECT count(*) FROM public.solutions")[0][0]

    # The API now drops two records and has three late ones.
    late = [dict(records[0], lti_user_id=f"late-{n}") for n in range(3)]
    answers.by_day[str(DAY)] = answer_of(records[2:] + late)
    again = materialize_days(str(DAY), str(DAY), resources, run_config=REFETCH)

    assert again.success
    event = again.asset_materializations_for_node("raw_attempts")[0]
    (row,) = event.metadata["per_day"].value.records
    assert (row.data["answer"], row.data["new_records"], row.data["gone_records"]) == (
        "fetched",
        3,
        2,
    )
    digest = digests(bamboo_home)[-1]
    assert f"    {DAY}: 3 new / 2 no longer returned" in digest
    assert "Records the API no longer returns stay in public.solutions." in digest
    # The two records the API no longer returns are still in public.solutions.
    assert query(database_dsn, "SELECT count(*) FROM public.solutions")[0][0] == loaded + 3
    for dropped in records[:2]:
        kept = query(
            database_dsn,
            "SELECT count(*) FROM public.solutions WHERE user_id = %s AND created_at = %s",
            (dropped["lti_user_id"], dropped["created_at"]),
        )
        assert kept == [(1,)]
