"""What the dashboard and the digest read from the warehouse, as named rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import psycopg
from psycopg.rows import class_row

from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.core.rows import DayLoad, Refetched

ALL_METRICS = """
SELECT to_char(study_date, 'YYYY-MM-DD') AS study_date, attempts_per_day_total,
    correct_attempts_per_day, unique_users_per_day, new_users_per_day
FROM public.daily_metrics ORDER BY study_date
"""
METRICS_OF_DAYS = """
SELECT to_char(study_date, 'YYYY-MM-DD') AS study_date, attempts_per_day_total,
    correct_attempts_per_day, unique_users_per_day, new_users_per_day
FROM public.daily_metrics WHERE study_date = ANY(%(days)s) ORDER BY study_date
"""
DAY_LOADS = """
SELECT to_char(day, 'YYYY-MM-DD') AS day, extracted, validated, rejected, unreadable_passback,
    prepared, inserted
FROM bamboo.day_loads WHERE day = ANY(%(days)s) ORDER BY day
"""
REFETCHED = """
SELECT to_char(day, 'YYYY-MM-DD') AS day, new_records, gone_records FROM bamboo.refetched_days
WHERE run_id = ANY(%(run_ids)s) ORDER BY day
"""
ROWS = {
    "solutions": "SELECT count(*) FROM public.solutions",
    "daily_metrics": "SELECT count(*) FROM public.daily_metrics",
}


def all_metrics(conn: psycopg.Connection) -> list[DayMetrics]:
    """Every day of `public.daily_metrics`, oldest first: what the dashboard shows."""
    return conn.cursor(row_factory=class_row(DayMetrics)).execute(ALL_METRICS).fetchall()


def metrics_of(conn: psycopg.Connection, days: Sequence[date]) -> list[DayMetrics]:
    cursor = conn.cursor(row_factory=class_row(DayMetrics))
    return cursor.execute(METRICS_OF_DAYS, {"days": list(days)}).fetchall()


def day_loads(conn: psycopg.Connection, days: Sequence[date]) -> list[DayLoad]:
    cursor = conn.cursor(row_factory=class_row(DayLoad))
    return cursor.execute(DAY_LOADS, {"days": list(days)}).fetchall()


def refetched(conn: psycopg.Connection, run_ids: Sequence[str]) -> list[Refetched]:
    cursor = conn.cursor(row_factory=class_row(Refetched))
    return cursor.execute(REFETCHED, {"run_ids": list(run_ids)}).fetchall()


def row_count(conn: psycopg.Connection, table: str) -> int:
    """An exact count of `public.solutions` or `public.daily_metrics` (the catalog's)."""
    return conn.execute(ROWS[table]).fetchone()[0]
