"""Restoring a compose deployment from its backup, as docs/deployment.md ("Backing up and
restoring a compose deployment") says: `bamboo backup` in the code-location container, the
archive copied off the machine, every volume deleted (`down -v`: the warehouse, Dagster's
storage, the raw answers), then postgres and the code location started alone, the archive
copied in, `bamboo restore`, and the stack up. The run history, the day's rows and its
metrics come back, and rerunning the restored day reuses its stored final answer
instead of calling the API.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bamboo_assets_tests.deployment.docker_stack import Stack, run

pytestmark = pytest.mark.docker

DAY = "2025-04-10"
ROWS = "SELECT count(*) FROM public.solutions WHERE created_at::date = '2025-04-10'"
METRICS = "SELECT attempts_per_day_total FROM public.daily_metrics WHERE study_date = '2025-04-10'"
REUSED = "raw_attempts: 0 days fetched, 1 final answers reused"
IN_VOLUME = "/var/lib/bamboo/backups/nightly.tar"


def messages(stack: Stack, run_id: str) -> list[str]:
    events = stack.ui.run(run_id)["eventConnection"]["events"]
    return [event["message"] for event in events if "message" in event]


def test_a_wiped_deployment_comes_back_from_its_backup(stack: Stack, tmp_path: Path) -> None:
    first = stack.ui.launch_day(DAY)
    assert stack.ui.wait_for_run(first)["status"] == "SUCCESS"
    day_rows = int(stack.project.sql(ROWS))
    assert day_rows > 100
    day_metrics = int(stack.project.sql(METRICS))

    # Back up inside the container, then keep a copy off the machine.
    started = time.monotonic()
    stack.project("exec", "-T", "code-location", "bamboo", "backup", IN_VOLUME, timeout=300)
    kept = tmp_path / "nightly.tar"
    run(["docker", "cp", f"{stack.project.container('code-location')}:{IN_VOLUME}", str(kept)],
        timeout=120)  # fmt: skip
    stack.time("backup", started)

    # Everything lost: containers and every volume.
    stack.project("down", "-v", timeout=300)
    assert not stack.project.containers()

    started = time.monotonic()
    stack.project("up", "-d", "postgres", "code-location", timeout=300)
    location = stack.project.container("code-location")
    run(["docker", "cp", str(kept), f"{location}:/tmp/nightly.tar"], timeout=120)
    restored = stack.project("exec", "-T", "code-location", "bamboo", "restore", "/tmp/nightly.tar")
    assert "restored" in restored.stdout.lower(), restored.stdout
    stack.time("restore", started)
    stack.up()

    history = {run["runId"]: run for run in stack.ui.runs()}
    assert history[first]["status"] == "SUCCESS"
    assert int(stack.project.sql(ROWS)) == day_rows
    assert int(stack.project.sql(METRICS)) == day_metrics

    again = stack.ui.launch_day(DAY)
    assert stack.ui.wait_for_run(again)["status"] == "SUCCESS"
    assert REUSED in messages(stack, again)
    assert int(stack.project.sql(ROWS)) == day_rows
