"""The record-volume band: a day's count against the same weekday's recent history, and the
warning check built on it."""

from __future__ import annotations

from datetime import date, timedelta
from statistics import median

import dagster as dg
from hypothesis import given, settings
from hypothesis import strategies as st

from bamboo_assets import checks
from bamboo_assets.core.validation import DayVerdict
from bamboo_assets.core.volume import VolumeRule, volume_band, volume_verdict

DAY = date(2025, 3, 26)  # a Wednesday
RULE = VolumeRule()  # the defaults: 0.5x to 2x the median, at least 3 of 4 weeks known


def weeks_before(*counts: int) -> dict[date, int]:
    """`counts[n]` records on the same weekday n + 1 weeks before DAY."""
    return {DAY - timedelta(weeks=n + 1): count for n, count in enumerate(counts)}


def test_the_defaults_are_half_to_twice_the_median_of_three_of_four_weeks() -> None:
    assert (RULE.low_ratio, RULE.high_ratio, RULE.min_weeks, RULE.weeks) == (0.5, 2.0, 3, 4)


def test_the_band_is_the_ratios_times_the_median_of_the_same_weekday() -> None:
    other_days = {DAY - timedelta(days=n): 10**6 for n in range(1, 7)}  # other weekdays
    assert volume_band(DAY, weeks_before(8000, 9000, 30) | other_days, RULE) == (4000.0, 16000.0)
    four = weeks_before(8000, 9000, 30, 8600)
    assert volume_band(DAY, four, RULE) == (0.5 * 8300, 2 * 8300)
    assert volume_band(DAY, four, VolumeRule(low_ratio=0.8, high_ratio=1.5)) == (6640, 12450)


def test_only_the_last_four_weeks_count() -> None:
    history = weeks_before(100, 100, 100, 100, 10**6)  # five weeks ago: outside the window
    assert volume_band(DAY, history, RULE) == (50.0, 200.0)


def test_the_day_itself_and_later_days_are_not_history() -> None:
    history = weeks_before(100, 100, 100) | {DAY: 10**6, DAY + timedelta(weeks=1): 10**6}
    assert volume_band(DAY, history, RULE) == (50.0, 200.0)


def test_there_is_no_verdict_until_enough_weeks_are_known() -> None:
    two_weeks = weeks_before(8000, 9000)
    assert volume_band(DAY, {}, RULE) is None
    assert volume_band(DAY, two_weeks, RULE) is None
    assert volume_band(DAY, two_weeks, VolumeRule(min_weeks=2)) == (4250.0, 17000.0)
    # A week without a known count is a gap, not a zero.
    gap = {DAY - timedelta(weeks=1): 100, DAY - timedelta(weeks=3): 100}
    assert volume_band(DAY, gap, RULE) is None


def test_the_verdict_at_and_around_the_edges_of_the_band() -> None:
    band = (50.0, 200.0)
    assert volume_verdict(49, band) == "too few"
    assert volume_verdict(50, band) == "ok"
    assert volume_verdict(200, band) == "ok"
    assert volume_verdict(201, band) == "too many"
    assert volume_verdict(0, None) == "no history"
    assert volume_verdict(10**9, None) == "no history"


@settings(deadline=None)  # a noisy machine must not fail a property
@given(
    counts=st.lists(st.integers(0, 10**6), min_size=3, max_size=4),
    low=st.floats(0, 1, allow_nan=False),
    spread=st.floats(0.01, 5, allow_nan=False),
)
def test_the_band_always_brackets_the_median(counts: list[int], low: float, spread: float) -> None:
    rule = VolumeRule(low_ratio=low, high_ratio=low + spread)
    band = volume_band(DAY, weeks_before(*counts), rule)
    assert band is not None
    usual = median(counts)
    assert band == (rule.low_ratio * usual, rule.high_ratio * usual)
    assert band[0] <= band[1]
    if rule.low_ratio <= 1 <= rule.high_ratio:
        assert volume_verdict(usual, band) == "ok"


def test_the_check_warns_naming_each_day_outside_its_band() -> None:
    history = weeks_before(1000, 1000, 1000)
    quiet, busy = DAY, DAY + timedelta(days=1)
    history |= {busy - timedelta(weeks=n): 1000 for n in (1, 2, 3)}
    verdicts = {quiet: DayVerdict(extracted=0), busy: DayVerdict(extracted=1500)}
    result = checks.volume(verdicts, history, RULE)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.description == f"{quiet}: 0 records, expected 500 to 2,000"
    rows = [row.data for row in result.metadata["per_day"].value.records]
    assert rows == [
        {"day": str(quiet), "records": 0, "expected_low": 500.0, "expected_high": 2000.0,
         "verdict": "too few"},
        {"day": str(busy), "records": 1500, "expected_low": 500.0, "expected_high": 2000.0,
         "verdict": "ok"},
    ]  # fmt: skip


def test_a_day_without_history_passes_with_no_verdict() -> None:
    result = checks.volume({DAY: DayVerdict(extracted=0)}, {}, RULE)
    assert result.passed and result.description is None
    (row,) = result.metadata["per_day"].value.records
    assert row.data["verdict"] == "no history"
    assert result.metadata["rule"].value == (
        "0.5x to 2x the median of the same weekday over 4 weeks, at least 3 known"
    )
