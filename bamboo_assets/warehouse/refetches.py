"""What raw_attempts keeps in the warehouse: the late records of each day fetched again."""

from __future__ import annotations

from datetime import date

import psycopg

RECORD_REFETCHED = """
INSERT INTO bamboo.refetched_days (run_id, day, new_records, gone_records)
VALUES (%(run_id)s, %(day)s, %(new)s, %(gone)s)
ON CONFLICT (run_id, day) DO UPDATE SET
    new_records = EXCLUDED.new_records, gone_records = EXCLUDED.gone_records
"""


def record(conn: psycopg.Connection, run_id: str, late: dict[date, tuple[int, int]]) -> None:
    """For each day fetched again: records new since the previous fetch, records now gone."""
    with conn.transaction():
        for day, (new, gone) in late.items():
            conn.execute(RECORD_REFETCHED, {"run_id": run_id, "day": day, "new": new, "gone": gone})
