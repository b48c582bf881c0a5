"""The one `Definitions` of the Bamboo code location, built from the settings once.

Lineage: raw_attempts → validated_attempts → solutions_table → daily_metrics →
dashboard_sheet → digest_email, all partitioned by day (assets/pipeline.py). Which
implementation of each resource is used (real or local) is decided by the settings.
"""

from __future__ import annotations

import dagster as dg

from bamboo_assets.assets.pipeline import GROUP, build_pipeline
from bamboo_assets.schedule import daily_attempts_schedule
from bamboo_assets.sensors import backfill_digest, failed_run_alert
from bamboo_assets.settings import Settings
from bamboo_assets.systems import build_resources


def build_definitions(settings: Settings) -> dg.Definitions:
    """Everything Dagster loads, for one set of settings (production's, or a test's)."""
    partitions = dg.DailyPartitionsDefinition(
        start_date=settings.start_date, timezone=settings.timezone
    )
    job = dg.define_asset_job(
        "daily_attempts",
        selection=dg.AssetSelection.groups(GROUP),
        partitions_def=partitions,
        description="Fetch, validate and load days of attempts, refresh metrics, dashboard, "
        "digest.",
    )
    return dg.Definitions(
        assets=[build_pipeline(partitions)],
        jobs=[job],
        schedules=[daily_attempts_schedule(settings, job)],
        sensors=[failed_run_alert, backfill_digest],
        resources=build_resources(settings),
        # One process per run: Dagster's fixed cost per run drops from ~20 s to a few seconds.
        executor=dg.in_process_executor,
    )


defs = build_definitions(Settings.from_env())
