"""The day partitions every asset shares, in the configured timezone.

Dagster needs them when the definitions load, so BAMBOO_START_DATE and BAMBOO_TIMEZONE are
read here, at import; everything a run reads comes from the `pipeline_settings` resource.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from bamboo_assets.settings import load_settings

_AT_LOAD = load_settings()

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=_AT_LOAD.start_date, timezone=_AT_LOAD.timezone
)


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The days this run materializes (one, or a range in a backfill)."""
    return [date.fromisoformat(key) for key in context.partition_keys]
