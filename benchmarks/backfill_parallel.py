"""Figure 4: a 30-day single-run backfill of `raw_attempts`, sequential vs parallel fetches.

The statistics API is slow per request and answers one day per call, so a backfill's time is
mostly waiting; `raw_attempts` fetches ITRESUME_PARALLEL_REQUESTS days at once. Here
FakeStatisticsApi waits 1 s before each small answer (100 records a day) and the asset runs
in-process through `dagster.materialize` over one partition range, as a single-run backfill
does, with 1 (sequential), 4 (the default) and 8 requests at a time.
Target: 4 at a time / sequential <= 0.35.

    python -m benchmarks.backfill_parallel
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from bamboo_assets.assets.ingest import raw_attempts
from bamboo_assets.resources.raw_answers import SUFFIX, RawAnswerStore
from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi
from bamboo_assets.resources.warehouse import EmbeddedWarehouse
from bamboo_assets.schedules import RANGE_END, RANGE_START
from bamboo_assets.settings import PipelineSettings
from bamboo_assets.simulator import simulated_answer
from benchmarks.common import (
    CLIENT,
    CLIENT_KEY,
    BenchmarkError,
    Row,
    alternate,
    env_int,
    format_table,
    median,
    peak_rss_of_this_process,
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


class Backfill:
    """One timed run of `raw_attempts` over the 30 days, with `parallel` requests at a time."""

    def __init__(
        self, api_url: str, request_times: Callable[[], list[float]], scratch: Path
    ) -> None:
        self.api_url = api_url
        self.request_times = request_times
        self.scratch = scratch
        self.instance = dg.DagsterInstance.ephemeral()
        self.counter = 0

    def __call__(self, parallel: int) -> tuple[float, float, int]:
        self.counter += 1
        store = self.scratch / f"raw-{self.counter}"
        resources = {
            "statistics_api": ItresumeStatisticsApi(
                url=self.api_url,
                client=CLIENT,
                client_key=CLIENT_KEY,
                parallel_requests=parallel,
            ),
            "raw_answers": RawAnswerStore(directory=str(store)),
            # Fresh answers, no failed day: raw_attempts never connects (started only if used).
            "warehouse": EmbeddedWarehouse(data_dir=str(self.scratch / "postgres")),
            "pipeline_settings": PipelineSettings(),
        }
        last = FIRST_DAY + timedelta(days=DAYS - 1)
        seen = len(self.request_times())
        with peak_rss_of_this_process() as rss:
            began = time.perf_counter()
            result = dg.materialize(
                [raw_attempts],
                resources=resources,
                instance=self.instance,
                tags={RANGE_START: FIRST_DAY.isoformat(), RANGE_END: last.isoformat()},
                run_config=QUIET,
                raise_on_error=False,
            )
            seconds = time.perf_counter() - began
        arrivals = self.request_times()[seen:]
        stored = len(list(store.glob(f"*{SUFFIX}")))
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
        serve_answers(answers, delay_seconds=DELAY_SECONDS) as api,
    ):
        backfill = Backfill(api.url, lambda: api.request_times, scratch)
        progress("  warm-up (untimed): one run with 8 at a time")
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
        "answer; seconds = median of the whole in-process dagster.materialize call "
        f"({len(results[_label(1)])} runs), Dagster's per-run overhead (tenths of a second) "
        "included",
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
