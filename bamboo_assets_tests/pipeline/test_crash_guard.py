"""A day whose staged rows were lost in a crash, inside a range: staging is UNLOGGED, and
PostgreSQL empties such a partition when it recovers from a crash. solutions_table refuses
that day alone; the other days of the run load, and the day loads once materialized again."""

from __future__ import annotations

from pathlib import Path

import psycopg

from bamboo_assets_tests.support.bamboo import LINEAGE, Bamboo, digests, loaded_days, query
from bamboo_assets_tests.support.faults import failure_message

FIRST, CRASHED, LAST = "2025-02-01", "2025-02-02", "2025-02-03"


def test_a_day_whose_staging_was_emptied_by_a_crash_fails_alone_at_solutions_table(
    bamboo: Bamboo, database_dsn: str, bamboo_home: Path
) -> None:
    assert bamboo.run(FIRST, LAST, select=LINEAGE[:2]).success  # fetched and validated
    [(validated,)] = query(
        database_dsn, "SELECT validated FROM bamboo.day_loads WHERE day = %s", (CRASHED,)
    )
    with psycopg.connect(database_dsn) as conn:  # what crash recovery does to the partition
        conn.execute("TRUNCATE bamboo.validated_attempts_20250202")

    result = bamboo.run(FIRST, LAST, select=LINEAGE[2:])

    assert not result.success
    why = (
        f"bamboo.validated_attempts holds 0 rows for {CRASHED}, but validation kept {validated}: "
        "its partition is UNLOGGED and PostgreSQL empties it after a crash. Nothing was loaded "
        f"for {CRASHED}; it is validated again when it is materialized again"
    )
    message = failure_message(result, "bamboo_pipeline")
    assert (
        "1 of 3 days failed; nothing was loaded for them; the other 2 went through every step "
        f"of the run. {CRASHED}: {why} (at solutions_table)."
    ) in message
    assert loaded_days(database_dsn) == [FIRST, LAST]
    ledger = query(
        database_dsn,
        "SELECT day::text, outcome, step, reason FROM bamboo.run_days WHERE run_id = %s"
        " ORDER BY day",
        (result.run_id,),
    )
    assert ledger == [
        (FIRST, "done", None, None),
        (CRASHED, "failed", "solutions_table", why),
        (LAST, "done", None, None),
    ]
    view = bamboo.partition_view()
    for name in LINEAGE[2:]:
        assert view[name] == {"materialized": [FIRST, LAST], "failed": [CRASHED]}, name
    digest = digests(bamboo_home)[-1]
    assert digest.startswith(
        f"Subject: Bamboo digest: {FIRST} to {LAST} (3 days), 1 not loaded\n"
        f"Not loaded: 1 of 3 days holds no data: {CRASHED}.\n"
    )
    assert f"    {CRASHED} at solutions_table: {why}\n" in digest

    # Materialized again (every asset, the day alone), it is validated again and loads.
    assert bamboo.run(CRASHED).success
    assert loaded_days(database_dsn) == [FIRST, CRASHED, LAST]
    assert bamboo.partition_view() == {
        name: {"materialized": [FIRST, CRASHED, LAST], "failed": []} for name in LINEAGE
    }
