"""What users see in the UI: one daily-partitioned lineage done in one step, a schedule, the
alert and digest sensors; and definitions that refuse to load in production with a gap, as
`dagster` itself loads them."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from bamboo_assets.definitions import build_definitions
from bamboo_assets.settings import Settings
from bamboo_assets_tests.support.bamboo import LINEAGE, RANGE_END, RANGE_START, production_env
from bamboo_assets_tests.support.dagster_processes import NOT_INHERITED, REPO

DAGSTER = Path(sys.executable).parent / "dagster"


def validate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`dagster definitions validate` of the code location, in `env` alone."""
    return subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-m", "bamboo_assets.definitions"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def inherited() -> dict[str, str]:
    """The test process's environment without anything that configures Bamboo or Dagster."""
    return {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}


@pytest.fixture
def defs(tmp_path: Path) -> dg.Definitions:
    """The definitions on local defaults (an empty environment but for BAMBOO_HOME)."""
    return build_definitions(Settings.from_env({"BAMBOO_HOME": str(tmp_path)}))


@pytest.mark.slow
def test_dagster_validates_the_definitions(tmp_path: Path) -> None:
    result = validate(inherited() | {"BAMBOO_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful" in result.stderr + result.stdout


def test_the_assets_form_one_daily_partitioned_single_run_lineage_done_in_one_step(
    defs: dg.Definitions,
) -> None:
    graph = defs.resolve_asset_graph()
    for upstream, name in zip([None, *LINEAGE], LINEAGE, strict=False):
        node = graph.get(dg.AssetKey(name))
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
        assert node.partitions_def.start.date().isoformat() == "2024-01-01"
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
        assert node.group_name == "bamboo"
        assert node.description, f"{name} has no description"
        expected = {dg.AssetKey(upstream)} if upstream else set()
        assert set(node.parent_keys) == expected
    steps = {graph.get(dg.AssetKey(name)).assets_def.op.name for name in LINEAGE}
    assert steps == {"bamboo_pipeline"}


def test_the_daily_schedule_runs_by_default_and_loads_yesterday_and_the_day_before(
    defs: dg.Definitions,
) -> None:
    schedule = defs.resolve_schedule_def("daily_attempts_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 3, 10, 3, tzinfo=UTC)
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2025-03-08", "2025-03-09")


def test_the_failed_run_alert_and_backfill_digest_sensors_are_running_by_default(
    defs: dg.Definitions,
) -> None:
    for name in ("failed_run_alert", "backfill_digest"):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING


@pytest.mark.slow
def test_the_definitions_refuse_to_load_in_production_with_a_gap(tmp_path: Path) -> None:
    """What an operator sees: `dagster definitions validate` fails naming the variables."""
    env = inherited() | production_env(tmp_path) | {"BAMBOO_ENV": "production"}
    env["BAMBOO_HOME"] = str(tmp_path)
    del env["ITRESUME_CLIENT"], env["ITRESUME_CLIENT_KEY"]

    done = validate(env)

    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert (
        "SettingsError: BAMBOO_ENV is production but ITRESUME_CLIENT, ITRESUME_CLIENT_KEY are "
        "not set" in said
    )
    assert "pw-51ab" not in said  # the DSN is read, its password never shown
