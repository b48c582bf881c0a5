"""The run ledger: what became of every day of every run, read back by a re-execution (the
days its root run already did) and by a backfill's digest (the last word on each day)."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg

from bamboo_assets.core.ledger import DayFailure, DayLedger
from bamboo_assets.warehouse import ledger

D1, D2, D3, D4 = (date(2025, 3, 1) + timedelta(days=n) for n in range(4))
DAYS = [D1, D2, D3, D4]


def finished(days: list[date], failed: dict[date, str] | None = None, earlier=()) -> DayLedger:
    """A run's ledger once every step ran: `failed` maps a day to its step."""
    run = DayLedger(days, done_earlier=earlier)
    for day, step in (failed or {}).items():
        run.fail(day, step, f"{step} failed on {day}")
    return run


def record(conn, run: DayLedger, run_id: str, root: str | None = None, backfill=None) -> None:
    ledger.record(conn, run, run_id=run_id, root_run_id=root or run_id, backfill_id=backfill)


def test_every_day_of_a_run_is_kept_done_or_failed_with_its_step_and_reason(
    conn: psycopg.Connection,
) -> None:
    record(conn, finished(DAYS, {D2: "raw_attempts"}), "r1", backfill="b1")
    rows = conn.execute(
        "SELECT run_id, day, root_run_id, backfill_id, outcome, step, reason"
        " FROM bamboo.run_days ORDER BY day"
    ).fetchall()
    assert rows == [
        ("r1", D1, "r1", "b1", "done", None, None),
        ("r1", D2, "r1", "b1", "failed", "raw_attempts", f"raw_attempts failed on {D2}"),
        ("r1", D3, "r1", "b1", "done", None, None),
        ("r1", D4, "r1", "b1", "done", None, None),
    ]


def test_a_re_execution_passes_over_the_days_its_root_run_already_did(
    conn: psycopg.Connection,
) -> None:
    record(conn, finished(DAYS, {D2: "raw_attempts", D4: "solutions_table"}), "r1")
    assert ledger.done_by_root(conn, "r1", DAYS) == {D1, D3}
    assert ledger.done_by_root(conn, "r1", [D2, D3]) == {D3}  # only the days asked about
    assert ledger.done_by_root(conn, "another-root", DAYS) == set()

    # The re-execution r2 of r1 does D2 and D4; D4 fails again.
    retry = DayLedger(DAYS, done_earlier=ledger.done_by_root(conn, "r1", DAYS))
    assert retry.remaining() == [D2, D4]
    retry.fail(D4, "solutions_table", "again")
    record(conn, retry, "r2", root="r1")
    assert ledger.done_by_root(conn, "r1", DAYS) == {D1, D2, D3}


def test_recording_a_run_again_keeps_its_last_word_on_each_day(conn: psycopg.Connection) -> None:
    record(conn, finished([D1, D2], {D1: "raw_attempts"}), "r1")
    record(conn, finished([D1, D2]), "r1")
    assert ledger.done_by_root(conn, "r1", [D1, D2]) == {D1, D2}
    assert conn.execute("SELECT count(*) FROM bamboo.run_days").fetchone() == (2,)
    assert conn.execute(
        "SELECT outcome, step, reason FROM bamboo.run_days WHERE day = %s", (D1,)
    ).fetchall() == [("done", None, None)]


def test_a_backfills_failures_are_its_days_whose_last_run_failed_them(
    conn: psycopg.Connection,
) -> None:
    record(conn, finished([D1, D2], {D1: "raw_attempts"}), "r1", backfill="b1")
    record(conn, finished([D3, D4], {D3: "validated_attempts"}), "r2", backfill="b1")
    record(conn, finished([D1, D2], {D2: "raw_attempts"}), "other", backfill="b2")
    assert ledger.backfill_failures(conn, "b1") == [
        DayFailure(D1, "raw_attempts", f"raw_attempts failed on {D1}"),
        DayFailure(D3, "validated_attempts", f"validated_attempts failed on {D3}"),
    ]

    # The recovery, later, does D1 and D3 but fails D4, which an earlier run of it had done.
    record(conn, finished([D1, D3, D4], {D4: "daily_metrics"}), "r3", backfill="b1")
    assert ledger.backfill_failures(conn, "b1") == [
        DayFailure(D4, "daily_metrics", f"daily_metrics failed on {D4}")
    ]
    assert ledger.backfill_failures(conn, "b2") == [
        DayFailure(D2, "raw_attempts", f"raw_attempts failed on {D2}")
    ]
    assert ledger.backfill_failures(conn, "no-such-backfill") == []
