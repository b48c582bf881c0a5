"""The README's first command on local defaults: rows, metrics, a dashboard file, a digest."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bamboo_assets_tests.support.dagster_processes import NOT_INHERITED, REPO

pytestmark = pytest.mark.slow


def test_the_demo_loads_recent_days_and_says_where_the_results_are(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
    env.update(BAMBOO_HOME=str(tmp_path / "home"), DAGSTER_HOME=str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    result = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts = dict(
        line.strip().split(": ")
        for line in result.stdout.splitlines()
        if line.strip().endswith(" rows")
    )
    assert int(counts["public.solutions"].split()[0]) > 1000
    assert counts["public.daily_metrics"] == "3 rows"
    dashboard = (tmp_path / "home" / "dashboard.csv").read_text().splitlines()
    assert dashboard[0].startswith("study_date,attempts_per_day_total")
    assert len(dashboard) == 4
    (digest,) = (tmp_path / "home" / "outbox").glob("*.eml")
    assert "Rows extracted by API" in digest.read_text()
