"""Staged days → `public.solutions`, the notebook's table: every day of a range in one go.

Each `(user_id, created_at)` is offered once, the first in the answer (and the earliest day)
winning, as in the notebook; rows already in the table are kept. The days are loaded in one
transaction, by one statement run inside PostgreSQL, so each day is loaded whole or not at all
and no row passes through Python. Two statements give the same rows:

- nothing stored lies in the range's `created_at` span (a backfill of new days), so nothing can
  conflict: a plain `INSERT`, in the unique index's order, without ON CONFLICT's speculative
  insertion (measured 25 % faster than it; on a single million-record day 0.1.0's COPY round
  trip through Python was faster, benchmarks/README.md);
- otherwise (a reload, late records): `INSERT ... ON CONFLICT DO NOTHING`.

The unique index refuses a duplicate either way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql
from psycopg.rows import namedtuple_row

from bamboo_assets.warehouse import locks

_COLUMNS = (
    "user_id",
    "oauth_consumer_key",
    "lis_result_sourcedid",
    "lis_outcome_service_url",
    "is_correct",
    "attempt_type",
    "created_at",
)
_LIST = sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))

# What each day's staging holds against what validation counted: a mismatch means PostgreSQL
# emptied the UNLOGGED partition after a crash, and the staged rows are not the validated day.
STAGED = """
SELECT l.day, l.validated, coalesce(s.staged, 0) AS staged
FROM bamboo.day_loads l LEFT JOIN (
    SELECT day, count(*) AS staged FROM bamboo.validated_attempts
    WHERE day = ANY(%(days)s) GROUP BY day
) s USING (day)
WHERE l.day = ANY(%(days)s)
"""
# One loader at a time decides that no row can conflict: the check and the insert hold a lock
# that other loaders (and any writer) wait for; readers do not.
LOCK_TABLE = "LOCK TABLE public.solutions IN SHARE ROW EXCLUSIVE MODE"
# The sort before the insert fits in memory for a million-row day.
WORK_MEM = "SET LOCAL work_mem = '256MB'"
SPAN = """
SELECT min(created_at) AS first, max(created_at) AS last FROM bamboo.validated_attempts
WHERE day = ANY(%(days)s)
"""
# Through the BRIN index: a planner misled by stale statistics would read the whole table.
PROBE_BEGIN = "SET LOCAL enable_seqscan = off"
PROBE = (
    "SELECT EXISTS (SELECT FROM public.solutions WHERE created_at BETWEEN %(first)s AND %(last)s)"
)
PROBE_END = "RESET enable_seqscan"
# The first row of each key, with its staging day. The sort compares user_id bytewise
# (COLLATE "C"): equality is the same under any deterministic collation, and for C and C.UTF-8
# databases so is the order, the unique index's.
_FIRST_OF_EACH_KEY = sql.SQL(
    """
    SELECT DISTINCT ON (user_id COLLATE "C", created_at) {columns}, day
    FROM bamboo.validated_attempts WHERE day = ANY(%(days)s)
    ORDER BY user_id COLLATE "C", created_at, day, position
    """
)
# Both return the rows inserted per staging day.
INSERT_FRESH = sql.SQL(
    """
    WITH offered AS MATERIALIZED ({offered}),
    inserted AS (INSERT INTO public.solutions ({columns}) SELECT {columns} FROM offered)
    SELECT day, count(*) FROM offered GROUP BY day
    """
).format(offered=_FIRST_OF_EACH_KEY.format(columns=_LIST), columns=_LIST)
INSERT_SKIPPING_STORED = sql.SQL(
    """
    WITH offered AS MATERIALIZED ({offered}),
    inserted AS (
        INSERT INTO public.solutions ({columns}) SELECT {columns} FROM offered
        ON CONFLICT (user_id, created_at) DO NOTHING RETURNING user_id, created_at
    )
    SELECT offered.day, count(*) FROM inserted JOIN offered USING (user_id, created_at)
    GROUP BY offered.day
    """
).format(offered=_FIRST_OF_EACH_KEY.format(columns=_LIST), columns=_LIST)
# A user's first day only moves earlier. Rows go in user order, as the insert's, so concurrent
# loads lock users in the same order.
RECORD_FIRST_DAYS = """
INSERT INTO bamboo.user_first_day AS known (user_id, first_day)
SELECT user_id, min(first_day) FROM bamboo.validated_first_days
WHERE day = ANY(%(days)s) GROUP BY user_id ORDER BY user_id
ON CONFLICT (user_id) DO UPDATE SET first_day = EXCLUDED.first_day
WHERE EXCLUDED.first_day < known.first_day
"""
PREPARED = "SELECT day, prepared FROM bamboo.day_loads WHERE day = ANY(%(days)s)"
RECORD_LOADED = """
UPDATE bamboo.day_loads l SET prepared = l.validated, inserted = n.inserted, loaded_at = now()
FROM unnest(%(days)s::date[], %(inserted)s::int[]) AS n(day, inserted)
WHERE l.day = n.day
"""


@dataclass(frozen=True)
class LoadedDay:
    """What loading did for one day: its rows offered and inserted, and by which statement."""

    prepared: int
    inserted: int
    path: str


def refused_days(conn: psycopg.Connection, days: list[date]) -> dict[date, str]:
    """The days that cannot be loaded, and why: never validated, or staging that lost rows."""
    rows = conn.cursor(row_factory=namedtuple_row).execute(STAGED, {"days": days})
    staged = {row.day: row for row in rows}
    refused = {}
    for day in days:
        if day not in staged:
            refused[day] = (
                f"{day} was never validated: materialize validated_attempts for {day} first"
            )
        elif (counts := staged[day]).validated != counts.staged:
            refused[day] = (
                f"bamboo.validated_attempts holds {counts.staged} rows for {day}, but validation "
                f"kept {counts.validated}: its partition is UNLOGGED and PostgreSQL empties it "
                f"after a crash. Nothing was loaded for {day}; it is validated again when it is "
                "materialized again"
            )
    return refused


def load_days(conn: psycopg.Connection, days: list[date]) -> dict[date, LoadedDay]:
    """Load the staged `days` into `public.solutions`, in one transaction."""
    ordinals = [day.toordinal() for day in days]
    with conn.transaction():
        # A concurrent validation of one of these days waits until this load commits.
        conn.execute(locks.TAKE_DAYS, {"namespace": locks.STAGING, "days": ordinals})
        conn.execute(LOCK_TABLE)
        conn.execute(WORK_MEM)
        span = conn.cursor(row_factory=namedtuple_row).execute(SPAN, {"days": days}).fetchone()
        if span.first is None:
            statement, path = None, "nothing staged"
        elif _anything_stored(conn, span.first, span.last):
            statement, path = INSERT_SKIPPING_STORED, "INSERT ... ON CONFLICT DO NOTHING"
        else:
            statement, path = INSERT_FRESH, "INSERT (nothing stored in the span)"
        inserted = (
            Counter(dict(conn.execute(statement, {"days": days}))) if statement else Counter()
        )
        conn.execute(RECORD_FIRST_DAYS, {"days": days})
        conn.execute(RECORD_LOADED, {"days": days, "inserted": [inserted[d] for d in days]})
        prepared = dict(conn.execute(PREPARED, {"days": days}).fetchall())
    return {day: LoadedDay(prepared[day], inserted[day], path) for day in days}


def _anything_stored(conn: psycopg.Connection, first: object, last: object) -> bool:
    conn.execute(PROBE_BEGIN)
    (found,) = conn.execute(PROBE, {"first": first, "last": last}).fetchone()
    conn.execute(PROBE_END)
    return found


# For solutions_table's check: duplicates are impossible exactly while a valid unique index on
# (user_id, created_at) exists; finding it costs nothing, counting a million-row day seconds.
UNIQUE_ATTEMPT_INDEX = """
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'public.solutions'::regclass AND i.indisunique AND i.indisvalid
  AND i.indpred IS NULL AND i.indexprs IS NULL
  AND ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            ORDER BY k.n) = ARRAY['user_id', 'created_at']
"""
PREVIEW = """
SELECT user_id, attempt_type, is_correct, created_at FROM public.solutions
WHERE created_at >= %(day)s AND created_at < %(day)s::date + 1 LIMIT 5
"""


def unique_attempt_index(conn: psycopg.Connection) -> str | None:
    """The name of the index that makes a duplicate attempt impossible, if there is one."""
    row = conn.execute(UNIQUE_ATTEMPT_INDEX).fetchone()
    return row[0] if row else None


def preview(conn: psycopg.Connection, day: date) -> list[tuple]:
    """A few of the day's rows in `public.solutions`, for its asset page."""
    return conn.execute(PREVIEW, {"day": day}).fetchall()
