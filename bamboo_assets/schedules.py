"""The daily run: the last complete day, plus a few earlier days again for late records."""

from datetime import date, timedelta

import dagster as dg

from bamboo_assets.assets.common import GROUP
from bamboo_assets.partitions import SETTINGS, daily_partitions

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

daily_attempts_job = dg.define_asset_job(
    "daily_attempts",
    selection=dg.AssetSelection.groups(GROUP),
    partitions_def=daily_partitions,
    description="Fetch, validate and load days of attempts, refresh metrics, dashboard, digest.",
)


def scheduled_days(
    last_complete_day: date, refetch_days: int, start_date: date
) -> tuple[date, date]:
    """The range one scheduled run loads: the last complete day and `refetch_days` before it."""
    return max(start_date, last_complete_day - timedelta(days=refetch_days)), last_complete_day


@dg.schedule(
    job=daily_attempts_job,
    cron_schedule=SETTINGS.schedule_cron,
    execution_timezone=SETTINGS.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        f"Every day at {SETTINGS.schedule_cron!r} ({SETTINGS.timezone}): loads the last complete "
        f"day and re-fetches the {SETTINGS.refetch_days} day(s) before it, as one run."
    ),
)
def daily_attempts_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    today = context.scheduled_execution_time.astimezone(SETTINGS.tz).date()
    start = date.fromisoformat(SETTINGS.start_date)
    if today <= start:
        return dg.SkipReason(f"no complete day since BAMBOO_START_DATE {SETTINGS.start_date}")
    first, last = scheduled_days(today - timedelta(days=1), SETTINGS.refetch_days, start)
    return dg.RunRequest(
        run_key=f"daily-{last}",
        tags={
            RANGE_START: first.isoformat(),
            RANGE_END: last.isoformat(),
            "bamboo/trigger": "schedule",
            "dagster/priority": "10",  # ahead of queued backfill runs
        },
    )
