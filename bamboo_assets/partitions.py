"""The day partitions every asset shares, in the configured timezone."""

from __future__ import annotations

from datetime import date

import dagster as dg

from bamboo_assets.settings import load_settings

SETTINGS = load_settings()

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=SETTINGS.start_date, timezone=SETTINGS.timezone
)


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The days this run materializes (one, or a range in a backfill)."""
    return [date.fromisoformat(key) for key in context.partition_keys]
