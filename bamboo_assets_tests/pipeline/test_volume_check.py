"""The volume check: a day's record count far outside the same weekday's recent history fails a
warning check; no verdict until enough history exists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import dagster as dg
import pytest

from bamboo_assets.core.volume import VolumeRule, volume_band
from bamboo_assets_tests.servers import FakeStatisticsApi, Reply
from bamboo_assets_tests.support.bamboo import LINEAGE, Bamboo, check_evaluations
from bamboo_assets_tests.support.faults import Answers

DAY = date(2025, 3, 26)  # a Wednesday
RULE = VolumeRule()  # the defaults: 0.5x to 2x the median, at least 3 of 4 weeks known
EVERY_CHECK = [
    "rejected_share_below_threshold",
    "record_volume_within_history",
    "api_records_have_the_expected_keys",
    "no_duplicate_attempts",
    "metrics_match_solutions",
    "dashboard_matches_metrics",
]


def test_the_band_is_half_to_twice_the_median_of_the_same_weekday_over_four_weeks() -> None:
    weeks = {DAY - timedelta(weeks=n): count for n, count in [(1, 8000), (2, 9000), (3, 30)]}
    other_days = {DAY - timedelta(days=n): 10**6 for n in range(1, 7)}  # other weekdays
    assert volume_band(DAY, weeks | other_days, RULE) == (4000.0, 16000.0)
    weeks[DAY - timedelta(weeks=4)] = 8600
    assert volume_band(DAY, weeks, RULE) == (0.5 * 8300, 2 * 8300)
    assert volume_band(DAY, weeks, VolumeRule(low_ratio=0.8, high_ratio=1.5)) == (6640, 12450)


def test_there_is_no_verdict_until_enough_weeks_are_known() -> None:
    two_weeks = {DAY - timedelta(weeks=1): 8000, DAY - timedelta(weeks=2): 9000}
    assert volume_band(DAY, {}, RULE) is None
    assert volume_band(DAY, two_weeks, RULE) is None
    assert volume_band(DAY, two_weeks, VolumeRule(min_weeks=2)) == (4250.0, 17000.0)


@pytest.fixture
def answers() -> Answers:
    return Answers(records_per_day=1000)


def test_an_empty_day_among_days_of_a_thousand_fails_the_warning_and_an_ordinary_day_passes(
    configure: Callable[..., Bamboo], api: FakeStatisticsApi
) -> None:
    # One week of history is enough for a verdict here: the same weekday a week before DAY and
    # the day after it.
    bamboo = configure(BAMBOO_VOLUME_MIN_WEEKS="1")
    week_before = DAY - timedelta(weeks=1)
    history = bamboo.run(str(week_before), str(week_before + timedelta(days=1)), select=LINEAGE[:2])
    assert history.success

    api.fail_day(str(DAY), Reply(200, b"[]"))
    empty = bamboo.run(str(DAY))

    assert empty.success  # a warning: the day loads, the run goes on
    check = check_evaluations(empty)["record_volume_within_history"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    (row,) = check.metadata["per_day"].value.records
    assert (row.data["day"], row.data["records"], row.data["verdict"]) == (str(DAY), 0, "too few")
    low, high = row.data["expected_low"], row.data["expected_high"]
    assert 400 <= low < high <= 2400  # half and twice a count near 1000
    assert check.description == f"{DAY}: 0 records, expected {low:,.0f} to {high:,.0f}"

    ordinary = DAY + timedelta(days=1)
    passed = bamboo.run(str(ordinary))
    assert passed.success
    checked = check_evaluations(passed)
    assert {name: e.passed for name, e in checked.items()} == dict.fromkeys(EVERY_CHECK, True)
    (row,) = checked["record_volume_within_history"].metadata["per_day"].value.records
    assert row.data["verdict"] == "ok"
