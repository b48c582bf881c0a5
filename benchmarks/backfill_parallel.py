"""Figure 4: a 30-day single-run backfill of `raw_attempts`, sequential vs parallel fetches.

The statistics API is slow per request and answers one day per call, so a backfill's time is
mostly waiting; `raw_attempts` fetches ITRESUME_PARALLEL_REQUESTS days at once. Here
FakeStatisticsApi waits 1 s before each small answer (100 records a day), and Bamboo runs as
a deployment would: its definitions built from the environment (`build_definitions`), then
one in-process run of the pipeline over the partition range, `raw_attempts` only, as a
single-run backfill does, with 1 (sequential), 4 (the default) and 8 requests at a time.
Target: 4 at a time / sequential <= 0.35.

    python -m benchmarks.backfill_parallel
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from bamboo_assets.core.simulator import simulated_answer
from bamboo_assets.definitions import build_definitions
from bamboo_assets.resources.raw_answers import SUFFIX
from bamboo_assets.sensors import RANGE_END, RANGE_START
from bamboo_assets.settings import Settings
from bamboo_assets_tests.servers import FakeStatisticsApi
from benchmarks.common import (
    CLIENT,
    CLIENT_KEY,
    BenchmarkError,
    Row,
    alternate,
    base_env,
    env_int,
    format_table,
    fresh_database,
    median,
    peak_rss_of_this_process,
    postgres_server,
    progress,
    ratio,
    scratch_dir,
    serve_answers,
    verdict,
)

FIRST_DAY = date(2025, 4, 1)
DAYS = 30
DELAY_SECONDS = 1.0
PARALLEL = (1, 4, 8)
TARGET_RATIO = 0.35  # 4 at a time vs sequential
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _label(parallel: int) -> str:
    return "sequential (1)" if parallel == 1 else f"parallel ({parallel})"


def _max_in_flight(arrivals: list[float]) -> int:
    """Most requests that arrived within one answer delay of each other: what ran at once."""
    ordered = sorted(arrivals)
    best, start = 0, 0
    for end, arrived in enumerate(ordered):
        while arrived - ordered[start] >= DELAY_SECONDS * 0.5:
            start += 1
        best = max(best, end - start + 1)
    return best


@contextmanager
def environment(**variables: str) -> Iterator[None]:
    """The process environment as a deployment sets it (none of a developer's own Bamboo
    variables), for the block: Bamboo reads its settings from it, and its resources their
    secrets when the run starts."""
    saved, wanted = dict(os.environ), base_env(**variables)
    os.environ.clear()
    os.environ.update(wanted)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Backfill:
    """One timed run of `raw_attempts` over the 30 days, with `parallel` requests at a time."""

    def __init__(self, api: FakeStatisticsApi, dsn: str, scratch: Path) -> None:
        self.api = api
        self.dsn = dsn
        self.scratch = scratch
        self.instance = dg.DagsterInstance.ephemeral()
        self.counter = 0

    def __call__(self, parallel: int) -> tuple[float, float, int]:
        self.counter += 1
        home = self.scratch / f"home-{self.counter}"  # no answer stored yet: every day fetched
        last = FIRST_DAY + timedelta(days=DAYS - 1)
        with environment(
            ITRESUME_URL=self.api.url,
            ITRESUME_CLIENT=CLIENT,
            ITRESUME_CLIENT_KEY=CLIENT_KEY,
            ITRESUME_PARALLEL_REQUESTS=str(parallel),
            BAMBOO_HOME=str(home),
            BAMBOO_DB_DSN=self.dsn,
            BAMBOO_TIMEZONE="UTC",
            BAMBOO_START_DATE="2024-01-01",
        ):
            # Untimed: a code location loads its definitions once, not per run.
            defs = build_definitions(Settings.from_env(os.environ))
            job = defs.resolve_implicit_global_asset_job_def()
            seen = len(self.api.request_times)
            with peak_rss_of_this_process() as rss:
                began = time.perf_counter()
                result = job.execute_in_process(
                    asset_selection=[dg.AssetKey("raw_attempts")],
                    tags={RANGE_START: FIRST_DAY.isoformat(), RANGE_END: last.isoformat()},
                    run_config=QUIET,
                    instance=self.instance,
                    raise_on_error=False,
                )
                seconds = time.perf_counter() - began
        arrivals = self.api.request_times[seen:]
        stored = len(list((home / "raw").glob(f"*{SUFFIX}")))
        if not result.success or stored != DAYS or len(arrivals) != DAYS:
            raise BenchmarkError(
                f"{_label(parallel)}: success={result.success}, {stored} answers stored, "
                f"{len(arrivals)} requests for {DAYS} days"
            )
        return seconds, rss.peak_mb, _max_in_flight(arrivals)


def main() -> str:
    records = env_int("BENCH_BACKFILL_RECORDS_PER_DAY", 100)
    repeats = env_int("BENCH_BACKFILL_REPEATS", 3)
    progress(f"backfill_parallel: {DAYS} days x {records} records, {DELAY_SECONDS:g}s per answer")
    answers = {
        FIRST_DAY + timedelta(days=n): b"".join(
            simulated_answer(FIRST_DAY + timedelta(days=n), records)
        )
        for n in range(DAYS)
    }
    with (
        scratch_dir("backfill") as scratch,
        postgres_server(scratch / "pgdata") as uri,
        fresh_database(uri, "backfill") as dsn,
        serve_answers(answers, delay_seconds=DELAY_SECONDS) as api,
    ):
        backfill = Backfill(api, dsn, scratch)
        progress("  warm-up (untimed): one run with 8 at a time, which also makes the schema")
        backfill(8)
        results = alternate(
            [(_label(n), lambda n=n: backfill(n)) for n in PARALLEL],
            repeats,
        )
    table = _table(results, records)
    print(table, flush=True)
    return table


def _table(results: dict[str, list[tuple[float, float, int]]], records: int) -> str:
    seconds = {n: median([run[0] for run in results[_label(n)]]) for n in PARALLEL}
    base = seconds[1]
    rows = [
        Row(
            _label(n),
            DAYS,
            seconds[n],
            max(run[1] for run in results[_label(n)]),
            ratio(seconds[n], base),
            {"requests at once": str(max(run[2] for run in results[_label(n)]))},
        )
        for n in PARALLEL
    ]
    default = ratio(seconds[4], base)
    notes = [
        f"- parallel (4) / sequential = {default:.2f} (target <= {TARGET_RATIO:g}): "
        f"{verdict(default, TARGET_RATIO, at_most=True)}",
        f"- {DAYS} days x {records} records, the fake API waits {DELAY_SECONDS:g}s before each "
        "answer; seconds = median of the whole in-process run of the pipeline, raw_attempts "
        f"selected, over the range ({len(results[_label(1)])} runs): Dagster's per-run "
        "overhead and the run's warehouse work (schema check, the run's days recorded) "
        "included, the definitions' build not",
        "- requests at once: most requests that reached the API within half a second",
        "- peak RSS: the benchmark process (Dagster runs in it, so does the fake API)",
        *(
            f"- {name} runs (s): " + ", ".join(f"{run[0]:.2f}" for run in runs)
            for name, runs in results.items()
        ),
    ]
    return format_table(
        f"Figure 4 — {DAYS}-day backfill of raw_attempts",
        rows,
        count_label="days",
        rate_label="days/s",
        ratio_label="ratio vs sequential",
        extra_columns=["requests at once"],
        notes=notes,
    )


if __name__ == "__main__":
    main()
