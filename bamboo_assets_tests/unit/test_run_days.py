"""Which days a run is for: the scheduled range, a run's days read back from its tags, and the
days the metrics reconciliation recomputes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
from hypothesis import given, settings
from hypothesis import strategies as st

from bamboo_assets.checks import RECONCILED_DAYS, reconcile_sample
from bamboo_assets.schedule import daily_attempts_schedule, scheduled_days
from bamboo_assets.sensors import run_days, run_partitions
from bamboo_assets.settings import Settings

# Dagster's tag names, written out: what the CLI's --partition-range and backfills set.
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
PARTITION = "dagster/partition"
START = date(2024, 1, 1)


# -- the daily schedule -------------------------------------------------------------------------


def test_a_scheduled_run_loads_the_last_complete_day_and_the_refetched_days_before_it() -> None:
    assert scheduled_days(date(2025, 3, 8), 1, START) == (date(2025, 3, 7), date(2025, 3, 8))
    assert scheduled_days(date(2025, 3, 8), 3, START) == (date(2025, 3, 5), date(2025, 3, 8))
    assert scheduled_days(date(2025, 3, 8), 0, START) == (date(2025, 3, 8), date(2025, 3, 8))


def test_the_scheduled_range_never_starts_before_the_start_date() -> None:
    start = date(2025, 3, 7)
    assert scheduled_days(date(2025, 3, 8), 5, start) == (start, date(2025, 3, 8))
    assert scheduled_days(start, 5, start) == (start, start)


@settings(deadline=None)  # a noisy machine must not fail a property
@given(
    last=st.dates(date(2024, 1, 1), date(2030, 1, 1)),
    refetch=st.integers(0, 60),
    back=st.integers(0, 400),
)
def test_the_scheduled_range_ends_on_the_last_complete_day(
    last: date, refetch: int, back: int
) -> None:
    start = last - timedelta(days=back)
    first, end = scheduled_days(last, refetch, start)
    assert end == last
    assert start <= first <= last
    assert (last - first).days == min(refetch, back)


def schedule_tick(settings: Settings, when: datetime) -> dg.ScheduleExecutionData:
    schedule = daily_attempts_schedule(settings, dg.define_asset_job("bamboo"))
    return schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when))


def test_the_schedule_asks_for_one_run_over_the_range_with_priority_over_backfills() -> None:
    settings = Settings.from_env({"BAMBOO_TIMEZONE": "Europe/Moscow", "BAMBOO_REFETCH_DAYS": "2"})
    # 22:30 UTC on 03-08 is 01:30 on 03-09 in Moscow: 03-08 is the last complete day there.
    (request,) = schedule_tick(settings, datetime(2025, 3, 8, 22, 30, tzinfo=UTC)).run_requests
    assert request.run_key == "daily-2025-03-08"
    assert request.tags[RANGE_START] == "2025-03-06"
    assert request.tags[RANGE_END] == "2025-03-08"
    assert request.tags["dagster/priority"] == "10"
    assert request.tags["bamboo/trigger"] == "schedule"


def test_the_schedule_skips_until_a_day_after_the_start_date_is_complete() -> None:
    settings = Settings.from_env({"BAMBOO_START_DATE": "2025-03-01"})
    tick = schedule_tick(settings, datetime(2025, 3, 1, 3, 0, tzinfo=UTC))
    assert tick.run_requests == []
    assert tick.skip_message == "no complete day since BAMBOO_START_DATE 2025-03-01"
    (request,) = schedule_tick(settings, datetime(2025, 3, 2, 3, 0, tzinfo=UTC)).run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2025-03-01", "2025-03-01")


# -- a run's days, from its tags ----------------------------------------------------------------


def test_a_ranged_run_is_for_every_day_from_its_start_to_its_end() -> None:
    tags = {RANGE_START: "2025-02-27", RANGE_END: "2025-03-02", "other": "x"}
    assert run_days(tags) == [date(2025, 2, 27), date(2025, 2, 28), date(2025, 3, 1),
                              date(2025, 3, 2)]  # fmt: skip
    assert run_partitions(tags) == "2025-02-27...2025-03-02"


def test_a_single_partition_run_is_for_its_day() -> None:
    tags = {PARTITION: "2025-03-01"}
    assert run_days(tags) == [date(2025, 3, 1)]
    assert run_partitions(tags) == "2025-03-01"


def test_a_one_day_range_is_that_day() -> None:
    tags = {RANGE_START: "2025-03-01", RANGE_END: "2025-03-01"}
    assert run_days(tags) == [date(2025, 3, 1)]
    assert run_partitions(tags) == "2025-03-01...2025-03-01"


def test_a_run_without_partition_tags_is_for_no_day() -> None:
    assert run_days({}) == []
    assert run_partitions({"dagster/backfill": "b"}) == "no partition"


@settings(deadline=None)
@given(first=st.dates(date(2020, 1, 1), date(2030, 1, 1)), length=st.integers(1, 800))
def test_a_ranges_days_are_consecutive_and_complete(first: date, length: int) -> None:
    last = first + timedelta(days=length - 1)
    days = run_days({RANGE_START: str(first), RANGE_END: str(last)})
    assert len(days) == length
    assert days[0] == first and days[-1] == last
    assert all((b - a).days == 1 for a, b in zip(days, days[1:], strict=False))


# -- the days the metrics reconciliation recomputes ---------------------------------------------


def test_up_to_seven_days_are_all_recomputed() -> None:
    assert RECONCILED_DAYS == 7
    for count in range(8):
        days = [date(2025, 3, 1) + timedelta(days=n) for n in range(count)]
        assert reconcile_sample(days) == days


def test_more_days_give_seven_spread_from_the_first_to_the_last() -> None:
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(365)]
    sample = reconcile_sample(days)
    assert sample == [days[n] for n in (0, 61, 121, 182, 243, 303, 364)]


@settings(deadline=None)
@given(
    st.lists(st.dates(date(2020, 1, 1), date(2030, 1, 1)), min_size=8, max_size=2000, unique=True)
)
def test_a_sample_is_seven_distinct_days_evenly_spread_with_the_first_and_the_last(
    days: list[date],
) -> None:
    days.sort()
    sample = reconcile_sample(days)
    assert len(sample) == RECONCILED_DAYS == len(set(sample))
    assert sample[0] == days[0] and sample[-1] == days[-1]
    assert sample == sorted(sample)
    step = (len(days) - 1) / (RECONCILED_DAYS - 1)
    for n, day in enumerate(sample):
        assert abs(days.index(day) - n * step) <= 0.5
