"""What users see in the UI: one daily-partitioned lineage, a schedule, an alert sensor."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from bamboo_assets.definitions import defs
from bamboo_assets.schedules import RANGE_END, RANGE_START
from bamboo_assets_tests.helpers import LINEAGE


def test_dagster_validates_the_definitions(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ITRESUME", "SMTP", "DASHBOARD"))
    }
    env["BAMBOO_HOME"] = str(tmp_path)
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "bamboo_assets.definitions"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful" in result.stderr + result.stdout


def test_the_assets_form_one_daily_partitioned_single_run_lineage() -> None:
    graph = defs.resolve_asset_graph()
    for upstream, name in zip([None, *LINEAGE], LINEAGE, strict=False):
        node = graph.get(dg.AssetKey(name))
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
        assert node.group_name == "bamboo"
        assert node.description, f"{name} has no description"
        expected = {dg.AssetKey(upstream)} if upstream else set()
        assert set(node.parent_keys) == expected


def test_the_daily_schedule_runs_by_default_and_loads_yesterday_and_the_day_before() -> None:
    schedule = defs.resolve_schedule_def("daily_attempts_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 3, 10, 3, tzinfo=UTC)
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2025-03-08", "2025-03-09")


def test_a_failed_run_alert_sensor_is_running_by_default() -> None:
    sensor = defs.resolve_sensor_def("failed_run_alert")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
