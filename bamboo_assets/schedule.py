"""The daily run: the last complete day, plus a few earlier days again for late records."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from bamboo_assets.sensors import RANGE_END, RANGE_START
from bamboo_assets.settings import Settings


def scheduled_days(
    last_complete_day: date, refetch_days: int, start_date: date
) -> tuple[date, date]:
    """The range one scheduled run loads: the last complete day and `refetch_days` before it."""
    return max(start_date, last_complete_day - timedelta(days=refetch_days)), last_complete_day


def daily_attempts_schedule(
    settings: Settings, job: dg.UnresolvedAssetJobDefinition
) -> dg.ScheduleDefinition:
    """The schedule for `settings` (cron, timezone, start date and re-fetched days)."""

    @dg.schedule(
        name="daily_attempts_schedule",
        job=job,
        cron_schedule=settings.schedule_cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Every day at {settings.schedule_cron!r} ({settings.timezone}): loads the last "
            f"complete day and re-fetches the {settings.refetch_days} day(s) before it, as one run."
        ),
    )
    def schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        today = context.scheduled_execution_time.astimezone(settings.tz).date()
        start = settings.first_day
        if today <= start:
            return dg.SkipReason(f"no complete day since BAMBOO_START_DATE {settings.start_date}")
        first, last = scheduled_days(today - timedelta(days=1), settings.refetch_days, start)
        return dg.RunRequest(
            run_key=f"daily-{last}",
            tags={
                RANGE_START: first.isoformat(),
                RANGE_END: last.isoformat(),
                "bamboo/trigger": "schedule",
                "dagster/priority": "10",  # ahead of queued backfill runs
            },
        )

    return schedule
