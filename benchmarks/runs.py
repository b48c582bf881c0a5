"""What the figures that run Bamboo as a command share: timing a subprocess with its peak RSS,
the seconds each step logged, and the rows a run left in `public.solutions`.

    run_measured(...)   wall-clock seconds and the largest process of its tree
    step_seconds(log)   each asset's seconds, as the run logged them
    rows_digest(dsn)    SHA-256 of the rows, to tell whether two variants left the same
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from benchmarks.common import REPO, BenchmarkError, PeakRss

# Bamboo's own line per asset (`validated_attempts: 90 days in 9.96s`), and Dagster's per step
# (`Finished execution of step "raw_attempts" in 7.23s.`): Bamboo 0.1.0 had a step per asset.
_PIPELINE_STEP = re.compile(r" - bamboo_pipeline - (\w+): \d+ days in (\d+(?:\.\d+)?)s$", re.M)
_STEP_DONE = re.compile(r'Finished execution of step "(\w+)" in ([\w.]+)\.')
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DIGEST = """
COPY (
    SELECT user_id, oauth_consumer_key, lis_result_sourcedid, lis_outcome_service_url,
        is_correct, attempt_type, created_at
    FROM public.solutions ORDER BY user_id, created_at
) TO STDOUT
"""


@dataclass(frozen=True)
class Measured:
    """Wall-clock seconds and peak RSS of one run."""

    seconds: float
    peak_rss_mb: float
    stdout: str = ""
    stderr: str = ""


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    logs: Path,
    cwd: Path = REPO,
    timeout: float = 1800.0,
) -> Measured:
    """Run `command`, timing it from start to exit and sampling its process tree's RSS.

    Output goes to files under `logs` (a pipe could fill up and stall the process); a failure
    raises with the end of stderr so a broken variant is never reported as fast.
    """
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / "stdout.txt", logs / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        began = time.perf_counter()
        process = subprocess.Popen(
            list(command), env=dict(env), cwd=cwd, stdout=out, stderr=err, start_new_session=True
        )
        with PeakRss(process.pid) as rss:
            try:
                returncode = process.wait(timeout)
            except subprocess.TimeoutExpired:
                # Only the group this call started: the command and its own children.
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise BenchmarkError(f"{command[:4]} did not finish in {timeout:.0f}s") from None
        seconds = time.perf_counter() - began
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    if returncode != 0:
        raise BenchmarkError(f"{' '.join(command[:6])} ... exited {returncode}:\n{stderr[-3000:]}")
    return Measured(seconds, rss.peak_mb, stdout, stderr)


def step_seconds(dagster_log: str) -> dict[str, float]:
    """Each asset's seconds as the run logged them.

    Bamboo's assets share one Dagster step and log their own time; Bamboo 0.1.0 ran one
    Dagster step per asset, timed only by Dagster's STEP_SUCCESS line.
    """
    steps = {step: float(seconds) for step, seconds in _PIPELINE_STEP.findall(dagster_log)}
    if steps:
        return steps
    for step, duration in _STEP_DONE.findall(dagster_log):
        steps[step] = sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(duration))
    return steps


def solutions_count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM public.solutions").fetchone()[0]


def rows_digest(dsn: str) -> str:
    """SHA-256 of `public.solutions` in (user_id, created_at) order, hashed as it streams."""
    digest = hashlib.sha256()
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor, cursor.copy(DIGEST) as copy:
        for data in copy:
            digest.update(data)
    return digest.hexdigest()
