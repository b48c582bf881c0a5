"""A day's stored answer → its valid rows in staging, its rejected records, its counts.

Staging is `bamboo.validated_attempts`, list-partitioned by day: replacing a day is a TRUNCATE,
not a million-row DELETE. Each partition is UNLOGGED and written with `COPY ... FREEZE`: its
rows are rebuilt from the stored answer at will, so they need no WAL, and frozen rows spare the
first read a rewrite of every page. After a crash PostgreSQL empties an UNLOGGED table, which
the load notices (loading.py). A day is staged in one transaction: all of it or nothing.
"""

from __future__ import annotations

import tempfile
from datetime import date, tzinfo
from typing import BinaryIO

import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

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


def stage_day(
    conn: psycopg.Connection,
    day: date,
    answer: BinaryIO,
    timezone: tzinfo,
    *,
    partition_exists: bool,
) -> DayVerdict:
    """Replace `day`'s staged rows, rejections and counts with those of `answer`, in one
    transaction; offsets in `created_at` are converted to `timezone`.

    Raises answer.MalformedAnswer (nothing changed) if the answer is not one JSON list.
    """
    partition = _partition(day)
    with conn.transaction(), tempfile.TemporaryFile("w+") as rejected:
        conn.execute(locks.TAKE, {"namespace": locks.STAGING, "key": day.toordinal()})
        if partition_exists:
            conn.execute(sql.SQL("TRUNCATE {}").format(partition))
        else:
            conn.execute(
                sql.SQL(
                    "CREATE UNLOGGED TABLE {} PARTITION OF bamboo.validated_attempts "
                    "FOR VALUES IN ({})"
                ).format(partition, sql.Literal(day))
            )
        cursor = conn.cursor()
        # FREEZE: the partition was made or truncated in this transaction. The queued writer
        # sends rows from a thread, so PostgreSQL parses them while Python judges the next.
        rows = sql.SQL("COPY {} FROM STDIN (FREEZE)").format(partition)
        with cursor.copy(rows, writer=QueuedLibpqWriter(cursor)) as copy:
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
