"""BAMBOO_TIMEZONE=Europe/Moscow through the real definitions: the day partitions, the API's
window for a day, `created_at` offsets and the schedule's range all follow Moscow's clock.

The partitions and the schedule are built from the settings with the definitions
(`build_definitions`), as the code location builds them when it loads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from bamboo_assets_tests.servers import FakeStatisticsApi
from bamboo_assets_tests.support.bamboo import LINEAGE, Bamboo, query
from bamboo_assets_tests.support.faults import Answers, answer_of

DAY = "2025-03-05"
PASSBACK = "{'oauth_consumer_key': '', 'lis_result_sourcedid': 'course-v1:B+SQL-101+2024'}"
# created_at as sent → as stored (naive, Moscow time: UTC+3 all year since 2014).
CREATED_AT = {
    "2025-03-05T10:00:00Z": datetime(2025, 3, 5, 13, 0),
    "2025-03-05T08:15:00.5+01:00": datetime(2025, 3, 5, 10, 15, 0, 500000),
    "2025-03-05T23:30:00+00:00": datetime(2025, 3, 6, 2, 30),  # the next day in Moscow
    "2025-03-05T12:00:00+03:00": datetime(2025, 3, 5, 12, 0),
    "2025-03-05 09:00:00.000001": datetime(2025, 3, 5, 9, 0, 0, 1),  # naive: kept as sent
}


def attempt(user: str, created_at: str) -> dict[str, object]:
    return {
        "lti_user_id": user,
        "passback_params": PASSBACK,
        "is_correct": 1,
        "attempt_type": "submit",
        "created_at": created_at,
    }


def test_a_moscow_deployment_uses_moscow_days_offsets_and_schedule(
    configure: Callable[..., Bamboo],
    api: FakeStatisticsApi,
    answers: Answers,
    database_dsn: str,
) -> None:
    answers.by_day[DAY] = answer_of(
        [attempt(f"user-{n}", text) for n, text in enumerate(CREATED_AT)]
    )
    bamboo = configure(BAMBOO_TIMEZONE="Europe/Moscow")

    # The partition is Moscow's day; the API is asked for that calendar day.
    window = bamboo.partitions().time_window_for_partition_key(DAY)
    assert [window.start.isoformat(), window.end.isoformat()] == [
        "2025-03-05T00:00:00+03:00",
        "2025-03-06T00:00:00+03:00",
    ]
    assert bamboo.run(DAY, select=LINEAGE[:4]).success
    assert [(r["start"], r["end"]) for r in api.requests] == [
        ("2025-03-05 00:00:00.000000", "2025-03-05 23:59:59.999999")
    ]
    # Offsets are converted to Moscow time before they are stored; naive times are kept.
    stored = query(database_dsn, "SELECT user_id, created_at FROM public.solutions ORDER BY 1")
    assert stored == [(f"user-{n}", moment) for n, moment in enumerate(CREATED_AT.values())]
    metrics = query(
        database_dsn,
        "SELECT study_date::text, attempts_per_day_total FROM public.daily_metrics ORDER BY 1",
    )
    assert metrics == [("2025-03-05", 4), ("2025-03-06", 1)]

    # The schedule ticks at 03:00 Moscow time; then it loads the last complete Moscow day and
    # the one before it.
    schedule = bamboo.defs.resolve_schedule_def("daily_attempts_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 3 * * *", "Europe/Moscow")
    tick = datetime(2025, 3, 6, 3, tzinfo=ZoneInfo("Europe/Moscow"))
    (request,) = schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=tick)
    ).run_requests
    assert [
        request.tags["dagster/asset_partition_range_start"],
        request.tags["dagster/asset_partition_range_end"],
    ] == ["2025-03-04", "2025-03-05"]
