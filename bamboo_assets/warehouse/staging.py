"""A day's stored answer → its valid rows in staging, its rejected records, its counts.

Staging is `bamboo.validated_attempts`, list-partitioned by day: replacing a day is a TRUNCATE,
not a million-row DELETE. Each partition is UNLOGGED and written with `COPY ... FREEZE`: its
rows are rebuilt from the stored answer at will, so they need no WAL, and frozen rows spare the
first read a rewrite of every page. After a crash PostgreSQL empties an UNLOGGED table, which
the load notices (loading.py). A day is staged in one transaction: all of it or nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from datetime import date, tzinfo
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from bamboo_assets.core.answer import MalformedAnswer
from bamboo_assets.core.validation import DayVerdict, first_days_copy, judge_answer
from bamboo_assets.warehouse import locks

STAGED_DAYS = """
SELECT to_date(substr(c.relname, length('validated_attempts_') + 1), 'YYYYMMDD')
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'bamboo.validated_attempts'::regclass
"""
DELETE_FIRST_DAYS = "DELETE FROM bamboo.validated_first_days WHERE day = %(day)s"
COPY_FIRST_DAYS = "COPY bamboo.validated_first_days (day, user_id, first_day) FROM STDIN"
DELETE_REJECTED = "DELETE FROM bamboo.rejected_attempts WHERE day = %(day)s"
COPY_REJECTED = "COPY bamboo.rejected_attempts (day, position, reason, record) FROM STDIN"
# A new validation replaces the day's counts; those of its last load stay until it is loaded
# again, so a day that fails after validation still shows the load its rows come from.
RECORD_VALIDATED = """
INSERT INTO bamboo.day_loads
    (day, extracted, validated, rejected, unreadable_passback, validated_at)
VALUES (%(day)s, %(extracted)s, %(valid)s, %(rejected)s, %(unreadable)s, now())
ON CONFLICT (day) DO UPDATE SET
    extracted = EXCLUDED.extracted, validated = EXCLUDED.validated,
    rejected = EXCLUDED.rejected, unreadable_passback = EXCLUDED.unreadable_passback,
    validated_at = EXCLUDED.validated_at
"""


def _partition(day: date) -> sql.Identifier:
    return sql.Identifier("bamboo", f"validated_attempts_{day:%Y%m%d}")


def staged_days(conn: psycopg.Connection) -> set[date]:
    """The days that have a staging partition (made once, then truncated on each validation)."""
    return {day for (day,) in conn.execute(STAGED_DAYS)}


# Reads a stored answer (resources/raw_answers.read_answer): passed in, so that staging needs
# nothing of Dagster's.
OpenAnswer = Callable[[Path], AbstractContextManager[BinaryIO]]


def create_partitions(conn: psycopg.Connection, days: Sequence[date]) -> None:
    """Give each of `days` its staging partition, in one transaction (DDL only for new days).
    Under the days' staging locks: a run validating the same new day meanwhile waits, then
    finds the partition made."""
    with conn.transaction():
        ordinals = sorted(day.toordinal() for day in days)
        conn.execute(locks.TAKE_DAYS, {"namespace": locks.STAGING, "days": ordinals})
        for day in days:
            conn.execute(
                sql.SQL(
                    "CREATE UNLOGGED TABLE IF NOT EXISTS {} PARTITION OF bamboo.validated_attempts "
                    "FOR VALUES IN ({})"
                ).format(_partition(day), sql.Literal(day))
            )


# Stored answers (zstd) of fewer bytes than this are staged in the run's own process: forking
# workers and connecting them costs more than judging a few days. A day at the real API's
# volume (8,500 records) stores about 240 kB, so a range of four such days or more is
# staged in parallel.
PARALLEL_FROM_BYTES = 1 << 20


def workers_for(answers: Sequence[tuple[date, Path]]) -> int:
    """How many processes stage `answers`: one per core for a range worth it, else one."""
    if sum(path.stat().st_size for _, path in answers) < PARALLEL_FROM_BYTES:
        return 1
    return min(os.cpu_count() or 1, len(answers))


def stage_days(
    conn: psycopg.Connection,
    conninfo: str,
    answers: Sequence[tuple[date, Path]],
    timezone: str,
    open_answer: OpenAnswer,
    workers: int,
) -> Iterator[tuple[date, DayVerdict | MalformedAnswer]]:
    """Stage each (day, stored answer), in day order, yielding its verdict or why its answer
    is not one JSON list. Every day's partition must exist (create_partitions).

    With `workers` > 1 the days are staged by that many worker processes with connections of
    their own (workers_for): Python's judging then uses every core and PostgreSQL parses each
    COPY beside it. With one, they are staged here, on `conn`.
    """
    if workers <= 1:
        for day, path in answers:
            yield day, _stage(conn, day, path, timezone, open_answer)
        return
    # Forked: a run's process has one thread here, and spawned workers would each import the
    # parent's main module again (the dagster CLI). Workers end with os._exit, so the parent's
    # connection, which they inherit, is never touched.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_Worker.start, initargs=(conninfo,)
    ) as pool:
        futures = [
            (day, pool.submit(_Worker.stage, day, path, timezone, open_answer))
            for day, path in answers
        ]
        for day, future in futures:
            yield day, future.result()


class _Worker:
    """A staging worker process: its one connection, opened when the process starts."""

    conn: psycopg.Connection | None = None

    @classmethod
    def start(cls, conninfo: str) -> None:
        cls.conn = psycopg.connect(conninfo, autocommit=True)

    @classmethod
    def stage(
        cls, day: date, path: Path, timezone: str, open_answer: OpenAnswer
    ) -> DayVerdict | MalformedAnswer:
        return _stage(cls.conn, day, path, timezone, open_answer)


def _stage(
    conn: psycopg.Connection, day: date, path: Path, timezone: str, open_answer: OpenAnswer
) -> DayVerdict | MalformedAnswer:
    try:
        with open_answer(path) as answer:
            verdict = stage_day(conn, day, answer, ZoneInfo(timezone))
    except MalformedAnswer as error:
        return error
    verdict.first_seen.clear()  # written already; not worth sending back between processes
    return verdict


def stage_day(
    conn: psycopg.Connection, day: date, answer: BinaryIO, timezone: tzinfo
) -> DayVerdict:
    """Replace `day`'s staged rows, rejections and counts with those of `answer`, in one
    transaction; offsets in `created_at` are converted to `timezone`. The day's partition must
    exist (create_partitions).

    Raises answer.MalformedAnswer (nothing changed) if the answer is not one JSON list.
    """
    partition = _partition(day)
    with conn.transaction(), tempfile.TemporaryFile("w+") as rejected:
        conn.execute(locks.TAKE, {"namespace": locks.STAGING, "key": day.toordinal()})
        conn.execute(sql.SQL("TRUNCATE {}").format(partition))
        cursor = conn.cursor()
        # FREEZE: the partition was truncated in this transaction. Rows are sent as
        # they are judged (psycopg's plain writer): memory stays flat, where a queued writer
        # held up to a gigabyte of rows whenever PostgreSQL was slower than Python.
        rows = sql.SQL("COPY {} FROM STDIN (FREEZE)").format(partition)
        with cursor.copy(rows) as copy:
            verdict = judge_answer(answer, day, timezone, copy.write, rejected)
        conn.execute(DELETE_FIRST_DAYS, {"day": day})
        with cursor.copy(COPY_FIRST_DAYS) as copy:
            copy.write(first_days_copy(day, verdict.first_seen))
        conn.execute(DELETE_REJECTED, {"day": day})
        rejected.seek(0)
        with cursor.copy(COPY_REJECTED) as copy:
            while chunk := rejected.read(1 << 20):
                copy.write(chunk)
        conn.execute(
            RECORD_VALIDATED,
            {
                "day": day,
                "extracted": verdict.extracted,
                "valid": verdict.valid,
                "rejected": verdict.rejected_total,
                "unreadable": verdict.unreadable_passback,
            },
        )
    return verdict


# For validated_attempts' checks and its asset page.
REJECTED_SAMPLE = """
SELECT day, position, reason, left(record, 200) AS record FROM bamboo.rejected_attempts
WHERE day = ANY(%(days)s) ORDER BY day, position LIMIT 5
"""
EXTRACTED_BETWEEN = """
SELECT day, extracted FROM bamboo.day_loads WHERE day >= %(first)s AND day <= %(last)s
"""


def rejected_sample(conn: psycopg.Connection, days: list[date]) -> list[tuple]:
    """Up to five rejected records of `days` (day, position, reason, start of the record)."""
    return conn.execute(REJECTED_SAMPLE, {"days": days}).fetchall()


def extracted_between(conn: psycopg.Connection, first: date, last: date) -> dict[date, int]:
    """Records extracted per validated day from `first` to `last` (the volume check's history)."""
    return dict(conn.execute(EXTRACTED_BETWEEN, {"first": first, "last": last}).fetchall())
