"""The run ledger in `bamboo.run_days`: every day a run finished, done or failed, and why.

A re-execution of a run reads the days its root run (or an earlier re-execution of it)
already did, and passes over them; the digest of a backfill reads the last word on each day
among all the backfill's runs.
"""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg.rows import class_row

from bamboo_assets.core.ledger import DayFailure, DayLedger

RECORD = """
INSERT INTO bamboo.run_days (run_id, day, root_run_id, backfill_id, outcome, step, reason)
SELECT %(run_id)s, day, %(root_run_id)s, %(backfill_id)s, outcome, step, reason
FROM unnest(%(days)s::date[], %(outcomes)s::text[], %(steps)s::text[], %(reasons)s::text[])
    AS finished(day, outcome, step, reason)
ON CONFLICT (run_id, day) DO UPDATE SET outcome = EXCLUDED.outcome, step = EXCLUDED.step,
    reason = EXCLUDED.reason, recorded_at = now()
"""
DONE_BY_ROOT = """
SELECT DISTINCT day FROM bamboo.run_days
WHERE root_run_id = %(root_run_id)s AND outcome = 'done' AND day = ANY(%(days)s)
"""
# The last word on each day of a backfill: a failed day that a later run of it did is done.
BACKFILL_FAILURES = """
SELECT day, step, reason FROM (
    SELECT DISTINCT ON (day) day, outcome, step, reason FROM bamboo.run_days
    WHERE backfill_id = %(backfill_id)s ORDER BY day, recorded_at DESC
) last_word
WHERE outcome = 'failed' ORDER BY day
"""


def record(
    conn: psycopg.Connection,
    ledger: DayLedger,
    *,
    run_id: str,
    root_run_id: str,
    backfill_id: str | None,
) -> None:
    """Keep what became of every day of the run (one statement)."""
    failures = {f.day: f for f in ledger.failures}
    conn.execute(
        RECORD,
        {
            "run_id": run_id,
            "root_run_id": root_run_id,
            "backfill_id": backfill_id,
            "days": ledger.days,
            "outcomes": ["failed" if day in failures else "done" for day in ledger.days],
            "steps": [failures[day].step if day in failures else None for day in ledger.days],
            "reasons": [failures[day].reason if day in failures else None for day in ledger.days],
        },
    )


def done_by_root(conn: psycopg.Connection, root_run_id: str, days: list[date]) -> set[date]:
    """The `days` that an earlier run with this root already took through every step."""
    rows = conn.execute(DONE_BY_ROOT, {"root_run_id": root_run_id, "days": days})
    return {day for (day,) in rows}


def backfill_failures(conn: psycopg.Connection, backfill_id: str) -> list[DayFailure]:
    """The days of a backfill whose last run failed them."""
    cursor = conn.cursor(row_factory=class_row(DayFailure))
    return cursor.execute(BACKFILL_FAILURES, {"backfill_id": backfill_id}).fetchall()
