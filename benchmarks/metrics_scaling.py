"""Figure 3: `daily_metrics` for one day, with 1 day vs 365 days of history in the table.

Bamboo recomputes only the study days a load touched (`warehouse.metrics.refresh`), reading
them through the `created_at` BRIN index and their new users through `bamboo.user_first_day`,
so a daily run should cost the same whatever the history; the notebook re-aggregated the
whole table every run. Target: 365-day seconds / 1-day seconds <= 1.5.

History is simulated attempts (8,500 a day by default) put through Bamboo's own staging and
loading (`stage_day`, `load_days`), ending with the day that is refreshed; the earlier days'
metrics are refreshed before that day is loaded, as daily runs leave them. Each timed refresh
runs in a transaction that is rolled back, so every repetition starts from the same state.

    python -m benchmarks.metrics_scaling
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import psycopg

from bamboo_assets.core.simulator import simulated_answer
from bamboo_assets.warehouse import metrics
from bamboo_assets.warehouse.connection import PostgresWarehouse
from bamboo_assets.warehouse.loading import load_days
from bamboo_assets.warehouse.reports import metrics_of
from bamboo_assets.warehouse.staging import create_partitions, stage_day
from benchmarks.common import (
    BenchmarkError,
    PeakRss,
    Row,
    alternate,
    create_database,
    env_int,
    format_table,
    median,
    postgres_server,
    progress,
    ratio,
    scratch_dir,
    verdict,
)
from benchmarks.notebook_baseline import METRICS_QUERY

DAY = date(2025, 6, 30)
HISTORIES = (1, 365)
TARGET_RATIO = 1.5
UTC = ZoneInfo("UTC")
LOAD_BATCH = 31  # days staged and loaded together, as a month's backfill would


def _answer(day: date, per_day: int) -> bytes:
    """One simulated day as the API answers it (made on a worker: the simulator is slow)."""
    return b"".join(simulated_answer(day, per_day))


def load_history(dsn: str, days: int, per_day: int) -> int:
    """Bamboo's schema and `days` days of simulated attempts ending on DAY, staged and loaded
    by Bamboo's own functions, with the metrics of every earlier day; the rows loaded.

    The earlier days' metrics make the refresh of DAY a steady-state daily run: with
    `public.daily_metrics` empty, Bamboo's first run measures every day already in the table.
    Days are generated on two worker processes, the simulator being the slow part.
    """
    history = [DAY - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    earlier = history[:-1]
    batches = [earlier[i : i + LOAD_BATCH] for i in range(0, len(earlier), LOAD_BATCH)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        pool.submit(int).result()  # the workers are forked now, before any connection opens
        with PostgresWarehouse(dsn=dsn).connect() as conn:  # makes Bamboo's schema current
            create_partitions(conn, history)
            for batch in batches:
                _stage_and_load(conn, pool, batch, per_day)
            if earlier:
                metrics.refresh(conn, earlier)  # what the earlier daily runs left
            _stage_and_load(conn, pool, [DAY], per_day)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in ("public.solutions", "public.daily_metrics", "bamboo.user_first_day"):
            conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute("CHECKPOINT")
        return conn.execute("SELECT count(*) FROM public.solutions").fetchone()[0]


def _stage_and_load(
    conn: psycopg.Connection, pool: ProcessPoolExecutor, days: list[date], per_day: int
) -> None:
    """What validated_attempts and solutions_table do for `days`, on simulated answers."""
    answers = pool.map(_answer, days, [per_day] * len(days))
    for day, answer in zip(days, answers, strict=True):
        stage_day(conn, day, io.BytesIO(answer), UTC)
    load_days(conn, days)


class Refresh:
    """Timed `metrics.refresh(conn, [DAY])` on one database, over one kept connection."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn = psycopg.connect(dsn)
        # Never prepared, as on a run's own connection, which runs each statement once.
        self.conn.prepare_threshold = None
        self.backend_pid = self.conn.info.backend_pid
        self.day_rows = self.conn.execute(
            "SELECT count(*) FROM public.solutions "
            "WHERE created_at >= %s AND created_at < %s::date + 1",
            (DAY, DAY),
        ).fetchone()[0]
        self.conn.commit()
        self.notebook_seconds = 0.0
        self.days_recomputed = 0

    def check(self) -> None:
        """Untimed warm-up: Bamboo's row for DAY must equal the notebook's whole-table query."""
        with self.conn.transaction(force_rollback=True):
            self.days_recomputed = len(metrics.refresh(self.conn, [DAY]).recomputed)
            stored = metrics_of(self.conn, [DAY])
        # On a connection of its own: the whole table it reads must not count in the RSS of
        # the backend the refreshes are measured on.
        with psycopg.connect(self.dsn) as other:
            began = time.perf_counter()
            reference = {row[0]: tuple(row) for row in other.execute(METRICS_QUERY)}
            self.notebook_seconds = time.perf_counter() - began
        expected = reference.get(DAY.isoformat())
        if [tuple(row) for row in stored] != [expected]:
            raise BenchmarkError(f"metrics for {DAY}: Bamboo {stored}, notebook {expected}")

    def __call__(self) -> tuple[float, float]:
        with (
            PeakRss(self.backend_pid, children=False) as rss,
            self.conn.transaction(force_rollback=True),
        ):
            began = time.perf_counter()
            metrics.refresh(self.conn, [DAY])
            seconds = time.perf_counter() - began
        return seconds, rss.peak_mb

    def close(self) -> None:
        self.conn.close()


def main() -> str:
    per_day = env_int("BENCH_METRICS_RECORDS_PER_DAY", 8500)
    repeats = env_int("BENCH_METRICS_REPEATS", 7, minimum=5)
    progress(f"metrics_scaling: {per_day:,} records/day, histories {HISTORIES}, {repeats} rounds")
    with scratch_dir("metrics") as scratch, postgres_server(scratch / "pgdata") as uri:
        history_rows: dict[int, int] = {}
        dsns: dict[int, str] = {}
        for days in HISTORIES:  # all loads first: the loader forks, better with no connections
            began = time.perf_counter()
            dsns[days] = create_database(uri, f"history_{days}")
            history_rows[days] = load_history(dsns[days], days, per_day)
            progress(
                f"  loaded {days} days ({history_rows[days]:,} rows) "
                f"in {time.perf_counter() - began:.1f}s"
            )
        refreshes = {days: Refresh(dsns[days]) for days in HISTORIES}
        for each in refreshes.values():
            each.check()
        variants: list[tuple[str, Callable[[], tuple[float, float]]]] = [
            (_label(days), refreshes[days]) for days in HISTORIES
        ]
        results = alternate(variants, repeats)
        for each in refreshes.values():
            each.close()
    table = _table(results, refreshes, history_rows)
    print(table, flush=True)
    return table


def _label(days: int) -> str:
    return f"{days} day{'s' if days > 1 else ''} of history"


def _table(
    results: dict[str, list[tuple[float, float]]],
    refreshes: dict[int, Refresh],
    history_rows: dict[int, int],
) -> str:
    seconds = {days: median([s for s, _ in results[_label(days)]]) for days in HISTORIES}
    base = seconds[HISTORIES[0]]
    rows = [
        Row(
            _label(days),
            refreshes[days].day_rows,
            seconds[days],
            max(peak for _, peak in results[_label(days)]),
            ratio(seconds[days], base),
            {"rows in table": f"{history_rows[days]:,}"},
        )
        for days in HISTORIES
    ]
    scaling = ratio(seconds[HISTORIES[-1]], base)
    notes = [
        f"- {HISTORIES[-1]} days / {HISTORIES[0]} day = {scaling:.2f} "
        f"(target <= {TARGET_RATIO:g}): {verdict(scaling, TARGET_RATIO, at_most=True)}",
        f"- seconds: median of {len(results[_label(HISTORIES[0])])} runs of "
        f"metrics.refresh(conn, [{DAY}]) in a rolled-back transaction, its statements never "
        "prepared (as on a run's own connection); records = the day's rows",
        "- peak RSS: the PostgreSQL backend doing the work (its RSS counts the shared buffers "
        "it touched)",
        "- Bamboo's stored row for the day equals the notebook's whole-table query: checked; "
        "days recomputed per refresh: "
        + ", ".join(f"{refreshes[days].days_recomputed} ({_label(days)})" for days in HISTORIES),
        "- steady state: public.daily_metrics already holds every earlier day and "
        "bamboo.validated_attempts a staged partition per day, as after daily runs",
        *(
            f"- for reference, the notebook's whole-table query at {days} day(s): "
            f"{refreshes[days].notebook_seconds:.3f}s (1 run)"
            for days in HISTORIES
        ),
        *(
            f"- {name} runs (s): " + ", ".join(f"{s:.4f}" for s, _ in runs)
            for name, runs in results.items()
        ),
    ]
    return format_table(
        f"Figure 3 — daily_metrics for one day vs history ({DAY})",
        rows,
        ratio_label="ratio vs 1 day",
        extra_columns=["rows in table"],
        notes=notes,
    )


if __name__ == "__main__":
    main()
