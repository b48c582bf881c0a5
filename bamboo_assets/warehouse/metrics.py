"""`public.solutions` → `public.daily_metrics`: the notebook's four metrics per study day.

A load recomputes, in one statement, every study day its rows fall on, reading those days
through the `created_at` BRIN index and their new users through `bamboo.user_first_day`. A
user's first day can move earlier when an earlier day is backfilled, so the later days whose
new users that changed are recomputed too: the table equals the notebook's query over the whole
table, whatever order days are loaded in. The first run on a table the notebook filled measures
every day it finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg.rows import class_row

from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.warehouse import locks

TOUCHED = """
SELECT DISTINCT created_at::date FROM bamboo.validated_attempts WHERE day = ANY(%(days)s)
"""
# Every study day already in public.solutions, but only while public.daily_metrics is empty (a
# one-time filter: later runs do not scan).
UNMEASURED = """
SELECT DISTINCT created_at::date FROM public.solutions
WHERE NOT EXISTS (SELECT 1 FROM public.daily_metrics)
"""
STORED = """
SELECT to_char(study_date, 'YYYY-MM-DD') AS study_date, attempts_per_day_total,
    correct_attempts_per_day, unique_users_per_day, new_users_per_day
FROM public.daily_metrics WHERE study_date = ANY(%(days)s)
"""
MEASURE = """
WITH measured AS (
    SELECT created_at::date AS study_date, count(*) AS attempts,
        count(*) FILTER (WHERE is_correct = 1) AS correct, count(DISTINCT user_id) AS users
    FROM public.solutions
    WHERE created_at >= %(first)s AND created_at < %(last)s::date + 1
      AND created_at::date = ANY(%(days)s)
    GROUP BY 1
), newcomers AS (
    SELECT first_day AS study_date, count(*) AS users FROM bamboo.user_first_day
    WHERE first_day = ANY(%(days)s) GROUP BY first_day
)
INSERT INTO public.daily_metrics AS m (study_date, attempts_per_day_total,
    correct_attempts_per_day, unique_users_per_day, new_users_per_day, computed_at)
SELECT study_date, attempts, correct, measured.users, coalesce(newcomers.users, 0), now()
FROM measured LEFT JOIN newcomers USING (study_date)
ON CONFLICT (study_date) DO UPDATE SET
    attempts_per_day_total = EXCLUDED.attempts_per_day_total,
    correct_attempts_per_day = EXCLUDED.correct_attempts_per_day,
    unique_users_per_day = EXCLUDED.unique_users_per_day,
    new_users_per_day = EXCLUDED.new_users_per_day,
    computed_at = EXCLUDED.computed_at
"""
# A day left without attempts has no row, as in the notebook's query.
DELETE_EMPTY = """
DELETE FROM public.daily_metrics m WHERE study_date = ANY(%(days)s)
AND NOT EXISTS (SELECT FROM public.solutions
                WHERE created_at >= m.study_date AND created_at < m.study_date + 1)
"""
# Later days whose stored new users no longer match the users' first days. Reads only the users
# first seen after %(after)s, so a daily run (nothing after it) reads nothing.
NEW_USERS_CHANGED = """
WITH firsts AS (
    SELECT first_day, count(*) AS users FROM bamboo.user_first_day
    WHERE first_day > %(after)s GROUP BY first_day
)
UPDATE public.daily_metrics m
SET new_users_per_day = coalesce((SELECT users FROM firsts WHERE first_day = m.study_date), 0),
    computed_at = now()
WHERE m.study_date > %(after)s
  AND m.new_users_per_day <> coalesce((SELECT users FROM firsts WHERE first_day = m.study_date), 0)
RETURNING to_char(m.study_date, 'YYYY-MM-DD')
"""


@dataclass(frozen=True)
class Refresh:
    """The study days recomputed, and each changed day's new row (None: row removed)."""

    recomputed: list[date]
    changed: dict[str, DayMetrics | None]


def refresh(conn: psycopg.Connection, days: list[date]) -> Refresh:
    """Recompute the metrics of the study days the staged `days` touch, in one transaction."""
    with conn.transaction():
        conn.execute(locks.TAKE, {"namespace": locks.METRICS, "key": 0})
        touched = {day for (day,) in conn.execute(TOUCHED, {"days": days})}
        touched |= {day for (day,) in conn.execute(UNMEASURED)}
        if not touched:
            return Refresh([], {})
        ordered = sorted(touched)
        span = {"days": ordered, "first": ordered[0], "last": ordered[-1]}
        before = _stored(conn, ordered)
        conn.execute(MEASURE, span)
        conn.execute(DELETE_EMPTY, span)
        later = [day for (day,) in conn.execute(NEW_USERS_CHANGED, {"after": ordered[0]})]
        after = _stored(conn, [*ordered, *map(date.fromisoformat, later)])
    changed = {
        day: after.get(day)
        for day in sorted(set(before) | set(after))
        if before.get(day) != after.get(day)
    }
    return Refresh(ordered, changed)


def _stored(conn: psycopg.Connection, days: list[date]) -> dict[str, DayMetrics]:
    cursor = conn.cursor(row_factory=class_row(DayMetrics))
    return {row.study_date: row for row in cursor.execute(STORED, {"days": days})}


# For daily_metrics' check: the notebook's definitions for some days, written unlike the
# queries above: each day's rows read day by day, a user's first day from public.solutions
# itself (its first row, through unique_check's index), not from user_first_day.
RECOMPUTED = """
WITH day_rows AS (
    SELECT s.user_id, s.is_correct, d.day AS study_date
    FROM unnest(%(days)s::date[]) AS d(day)
    JOIN public.solutions s ON s.created_at >= d.day AND s.created_at < d.day + 1
), firsts AS (
    SELECT (SELECT min(s.created_at) FROM public.solutions s WHERE s.user_id = u.user_id)::date
        AS study_date
    FROM (SELECT DISTINCT user_id FROM day_rows) u
)
SELECT to_char(d.study_date, 'YYYY-MM-DD') AS study_date, count(*) AS attempts_per_day_total,
    count(*) FILTER (WHERE is_correct = 1) AS correct_attempts_per_day,
    count(DISTINCT user_id) AS unique_users_per_day,
    (SELECT count(*) FROM firsts f WHERE f.study_date = d.study_date) AS new_users_per_day
FROM day_rows d
GROUP BY d.study_date ORDER BY d.study_date
"""


def mismatched_days(conn: psycopg.Connection, days: list[date]) -> list[str]:
    """The `days` whose stored metrics differ from the notebook's definitions recomputed."""
    if not days:
        return []
    expected = set(conn.execute(RECOMPUTED, {"days": days}).fetchall())
    stored = set(conn.execute(STORED, {"days": days}).fetchall())
    return sorted({row[0] for row in expected ^ stored})
