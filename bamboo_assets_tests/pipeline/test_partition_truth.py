"""A range run in which some days fail: Dagster's partition view shows each bad day failed and
each good day materialized, for every asset, whatever step the day failed at.

Each test runs twice: as Bamboo's deployments run Dagster (one planned event per asset and
run, DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true) and with Dagster's default (one per
asset and day; marked slow, so `make test` runs it and `make test-fast` does not).
"""

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from bamboo_assets_tests.servers import FakeStatisticsApi, Reply
from bamboo_assets_tests.support.bamboo import LINEAGE, Bamboo, days, digests, loaded_days
from bamboo_assets_tests.support.faults import Answers, failure_message

FIRST, LAST = "2025-02-01", "2025-02-07"
WEEK = days(FIRST, LAST)


@pytest.fixture(
    autouse=True,
    params=["planned per asset", pytest.param("planned per day", marks=pytest.mark.slow)],
)
def planned_events(request: pytest.FixtureRequest) -> str:
    return "true" if request.param == "planned per asset" else "false"


@pytest.fixture
def bamboo(configure: Callable[..., Bamboo], planned_events: str) -> Bamboo:
    return configure(DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=planned_events)


def statuses(bamboo: Bamboo, failed: list[str]) -> dict[str, dict[str, list[str]]]:
    """What every asset must show when exactly `failed` failed."""
    good = [day for day in WEEK if day not in failed]
    return {name: {"materialized": good, "failed": failed} for name in LINEAGE}


def test_a_day_the_api_refuses_fails_on_every_asset_and_the_others_are_materialized(
    bamboo: Bamboo, api: FakeStatisticsApi, database_dsn: str
) -> None:
    api.fail_day("2025-02-04", Reply(503, b'{"errors": "maintenance"}'))

    result = bamboo.run(FIRST, LAST)

    assert not result.success
    assert bamboo.partition_view() == statuses(bamboo, ["2025-02-04"])
    assert loaded_days(database_dsn) == [day for day in WEEK if day != "2025-02-04"]
    message = failure_message(result, "bamboo_pipeline")
    assert "1 of 7 days failed; nothing was loaded for them" in message
    assert "2025-02-04: statistics API" in message and "answered HTTP 503" in message
    assert "choose 'Failed and missing'" in message


def test_a_day_whose_stored_answer_is_broken_fails_at_validation_on_every_asset(
    bamboo: Bamboo, answers: Answers, api: FakeStatisticsApi, database_dsn: str
) -> None:
    answers.by_day["2025-02-05"] = b'[{"lti_user_id": "u1", "passback_params": '  # cut, no ]
    answers.by_day["2025-02-05"] += b'"{}", "is_correct": 1}, {"oops"], "x"]'

    result = bamboo.run(FIRST, LAST)

    assert not result.success
    assert bamboo.partition_view() == statuses(bamboo, ["2025-02-05"])
    assert "2025-02-05" not in loaded_days(database_dsn)
    message = failure_message(result, "bamboo_pipeline")
    assert "(at validated_attempts)" in message and "set aside" in message


def test_one_digest_for_the_range_names_the_day_that_was_not_loaded_first(
    bamboo: Bamboo, api: FakeStatisticsApi, bamboo_home
) -> None:
    api.fail_day("2025-02-04", Reply(503))

    bamboo.run(FIRST, LAST)

    (digest,) = digests(bamboo_home)
    subject, first_line = digest.splitlines()[:2]
    assert subject == f"Subject: Bamboo digest: {FIRST} to {LAST} (7 days), 1 not loaded"
    assert first_line == "Not loaded: 1 of 7 days holds no data: 2025-02-04."
    assert "    2025-02-04 at raw_attempts: statistics API" in digest


def test_the_recovery_of_the_failed_day_fetches_only_it_and_ends_green_everywhere(
    bamboo: Bamboo, api: FakeStatisticsApi, database_dsn: str
) -> None:
    api.fail_day("2025-02-04", Reply(503))
    bamboo.run(FIRST, LAST)
    api.fail_day("2025-02-04", None)  # the API is healthy again
    before = len(api.requests)

    # What "Materialize, Failed and missing" launches: every asset, the failed day only.
    recovery = bamboo.run("2025-02-04")

    assert recovery.success
    assert [r["start"][:10] for r in api.requests[before:]] == ["2025-02-04"]
    assert bamboo.partition_view() == statuses(bamboo, [])
    assert loaded_days(database_dsn) == WEEK


def test_a_failed_refetch_of_a_loaded_day_shows_it_failed_and_keeps_its_rows(
    bamboo: Bamboo, api: FakeStatisticsApi, database_dsn: str, bamboo_home
) -> None:
    day = str(date.today() - timedelta(days=1))  # not final yet: every run fetches it again
    assert bamboo.run(day).success
    rows = loaded_days(database_dsn)
    api.fail_day(day, Reply(503))

    failed = bamboo.run(day)

    assert not failed.success
    view = bamboo.partition_view()
    assert all(view[name]["failed"] == [day] for name in LINEAGE)
    assert loaded_days(database_dsn) == rows
    assert "its earlier load stays" in digests(bamboo_home)[-1]
