"""The one `Definitions` of the Bamboo code location.

Lineage: raw_attempts → validated_attempts → solutions_table → daily_metrics →
dashboard_sheet → digest_email, all partitioned by day. Which implementation of each
resource is used (real or local) is decided by the environment: see settings.py.
"""

from __future__ import annotations

import os

import dagster as dg

from bamboo_assets.assets import PIPELINE
from bamboo_assets.schedules import daily_attempts_job, daily_attempts_schedule
from bamboo_assets.sensors import failed_run_alert
from bamboo_assets.settings import build_resources, load_settings

settings = load_settings(os.environ)

defs = dg.Definitions(
    assets=PIPELINE,
    jobs=[daily_attempts_job],
    schedules=[daily_attempts_schedule(settings)],
    sensors=[failed_run_alert],
    resources=build_resources(os.environ, settings),
    # One process per run: Dagster's fixed cost per run drops from ~20 s to a few seconds,
    # and the steps of a run are sequential anyway.
    executor=dg.in_process_executor,
)
