"""Figure 3: `daily_metrics` for one day, with 1 day vs 365 days of history in the table.

Bamboo recomputes only the days a load touched (`refresh_metrics`), reading one day through
the `created_at` index plus one unique-index probe per user, so a daily run should cost the
same whatever the history; the notebook re-aggregated the whole table every run. Target:
365-day seconds / 1-day seconds <= 1.5.

History is simulated attempts (8,500 a day by default) loaded straight into
`public.solutions` with COPY, ending with the day that is refreshed; each timed refresh runs
in a transaction that is rolled back, so every repetition starts from the same state.

    python -m benchmarks.metrics_scaling
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import psycopg

from bamboo_assets.assets.metrics import refresh_metrics
from bamboo_assets.resources.warehouse import PostgresWarehouse
from bamboo_assets.simulator import simulated_answer
from bamboo_assets.sql import NOTEBOOK_METRICS, STORED_DAY_METRICS, UPSERT_METRICS
from bamboo_assets.validation import judge_answer
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

DAY = date(2025, 6, 30)
HISTORIES = (1, 365)
TARGET_RATIO = 1.5
UTC = ZoneInfo("UTC")
# judge_answer writes rows for bamboo.validated_attempts: drop its `day` and `position`.
_STAGING_COLUMNS = re.compile(r"^[^\t]*\t[^\t]*\t", re.MULTILINE)
COPY_SOLUTIONS = """
COPY public.solutions (user_id, oauth_consumer_key, lis_result_sourcedid,
    lis_outcome_service_url, is_correct, attempt_type, created_at) FROM STDIN
"""


def _day_rows(day: date, per_day: int) -> str:
    """One simulated day as COPY text for public.solutions, through Bamboo's own validation
    so the rows look exactly like loaded ones."""
    lines: list[str] = []
    answer = io.BytesIO(b"".join(simulated_answer(day, per_day)))
    judge_answer(answer, day, UTC, lines.append, io.StringIO())
    return _STAGING_COLUMNS.sub("", "".join(lines))


def load_history(dsn: str, days: int, per_day: int) -> int:
    """Bamboo's schema, `days` days of simulated attempts ending on DAY, and the metrics of
    every earlier day; the number of rows loaded.

    The earlier days' metrics make the refresh of DAY a steady-state daily run: with
    `public.daily_metrics` empty, Bamboo's first run measures every day already in the table.
    A simulated day has no duplicate (user_id, created_at), so plain COPY is enough; days
    are generated on two processes, the simulator being the slow part.
    """
    with PostgresWarehouse(dsn=dsn).connect():
        pass
    history = [DAY - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        texts = pool.map(_day_rows, history, [per_day] * days, chunksize=4)
        with psycopg.connect(dsn) as conn, conn.cursor().copy(COPY_SOLUTIONS) as copy:
            for text in texts:
                copy.write(text)
    with PostgresWarehouse(dsn=dsn).connect():
        pass  # users' first days, from the rows just copied (what a load keeps up to date)
    with psycopg.connect(dsn) as conn:
        for row in conn.execute(NOTEBOOK_METRICS).fetchall():
            if row[0] < DAY.isoformat():
                conn.execute(UPSERT_METRICS, (date.fromisoformat(row[0]), *row[1:]))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE public.solutions")
        conn.execute("VACUUM ANALYZE public.daily_metrics")
        conn.execute("CHECKPOINT")
        return conn.execute("SELECT count(*) FROM public.solutions").fetchone()[0]


class Refresh:
    """Timed `refresh_metrics(conn, [DAY])` on one database, over one kept connection."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn)
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
            recomputed, _ = refresh_metrics(self.conn, [DAY])
            self.days_recomputed = len(recomputed)
            stored = self.conn.execute(STORED_DAY_METRICS, (DAY,)).fetchone()
            began = time.perf_counter()
            reference = {row[0]: tuple(row[1:]) for row in self.conn.execute(NOTEBOOK_METRICS)}
            self.notebook_seconds = time.perf_counter() - began
        if stored != reference.get(DAY.isoformat()):
            raise BenchmarkError(f"metrics for {DAY}: Bamboo {stored}, notebook {reference}")

    def __call__(self) -> tuple[float, float]:
        with (
            PeakRss(self.backend_pid, children=False) as rss,
            self.conn.transaction(force_rollback=True),
        ):
            began = time.perf_counter()
            refresh_metrics(self.conn, [DAY])
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
        for refresh in refreshes.values():
            refresh.check()
        variants: list[tuple[str, Callable[[], tuple[float, float]]]] = [
            (_label(days), refreshes[days]) for days in HISTORIES
        ]
        results = alternate(variants, repeats)
        for refresh in refreshes.values():
            refresh.close()
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
        f"refresh_metrics(conn, [{DAY}]) in a rolled-back transaction; records = the day's rows",
        "- peak RSS: the PostgreSQL backend doing the work (its RSS counts the shared buffers "
        "it touched)",
        "- Bamboo's stored row for the day equals the notebook's whole-table query: checked; "
        "days recomputed per refresh: "
        + ", ".join(f"{refreshes[days].days_recomputed} ({_label(days)})" for days in HISTORIES),
        "- steady state: public.daily_metrics already holds every earlier day, as after daily runs",
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
