"""Loading staged days into public.solutions: a plain INSERT when nothing stored lies in the
days' created_at span, INSERT ... ON CONFLICT otherwise, the same rows either way; and days that
cannot be loaded refused, not loaded."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from bamboo_assets.warehouse.connection import PostgresWarehouse
from bamboo_assets.warehouse.loading import (
    load_days,
    preview,
    refused_days,
    unique_attempt_index,
)
from bamboo_assets_tests.warehouse.days import answer_of, attempt, simulated, stage

DAY = date(2025, 3, 4)
NEXT = DAY + timedelta(days=1)
FRESH = "INSERT (nothing stored in the span)"
SKIPPING = "INSERT ... ON CONFLICT DO NOTHING"
ROWS = """
SELECT user_id, oauth_consumer_key, lis_result_sourcedid, lis_outcome_service_url,
    is_correct, attempt_type, created_at
FROM public.solutions WHERE user_id <> 'already-there' ORDER BY user_id, created_at
"""
ALREADY_THERE = (
    "INSERT INTO public.solutions (user_id, attempt_type, created_at)"
    " VALUES ('already-there', 'run', %s)"
)


def record(n: int, course: str, is_correct: int | None) -> dict:
    return attempt(f"user-{n:02d}", f"{DAY} 10:{n % 7:02d}:00.000001", course, is_correct)


# Users in reverse order of the unique index, and every third key sent again later with
# other values: the first one sent must be the one stored.
FIRST = [record(n, "first", [None, 0, 1][n % 3]) for n in range(40, 0, -1)]
AGAIN = [record(n, "again", 1) for n in range(40, 0, -3)]


def rows(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(ROWS).fetchall()


def test_both_statements_store_the_same_rows_and_the_first_sent_wins(
    conn: psycopg.Connection, other_dsn: str
) -> None:
    stage(conn, DAY, answer_of(FIRST + AGAIN))
    (loaded,) = load_days(conn, [DAY]).values()
    assert (loaded.path, loaded.prepared, loaded.inserted) == (FRESH, len(FIRST + AGAIN), 40)
    fresh = rows(conn)

    # A row inside the day's created_at span, of a user the day does not have: nothing of the
    # day conflicts with it, but the load can no longer know that without ON CONFLICT.
    with PostgresWarehouse(dsn=other_dsn).connect() as other:
        other.execute(ALREADY_THERE, (f"{DAY} 10:03:00",))
        stage(other, DAY, answer_of(FIRST + AGAIN))
        (loaded,) = load_days(other, [DAY]).values()
        assert (loaded.path, loaded.inserted) == (SKIPPING, 40)
        assert rows(other) == fresh

    assert len(fresh) == len(FIRST)
    by_user = {row[0]: row for row in fresh}
    for sent in FIRST:
        stored = by_user[sent["lti_user_id"]]
        assert (stored[2], stored[4]) == ("first", sent["is_correct"])


def test_a_reload_takes_the_on_conflict_path_and_inserts_nothing_twice(
    conn: psycopg.Connection,
) -> None:
    stage(conn, DAY, answer_of(FIRST + AGAIN))
    load_days(conn, [DAY])
    before = rows(conn)
    stage(conn, DAY, answer_of(FIRST + AGAIN))
    (loaded,) = load_days(conn, [DAY]).values()
    assert (loaded.path, loaded.prepared, loaded.inserted) == (SKIPPING, len(FIRST + AGAIN), 0)
    assert rows(conn) == before


def test_a_reload_with_late_records_inserts_only_them(conn: psycopg.Connection) -> None:
    stage(conn, DAY, answer_of(FIRST))
    load_days(conn, [DAY])
    late = [attempt("late", f"{DAY} 23:59:59"), attempt("user-05", f"{DAY} 18:00:00")]
    stage(conn, DAY, answer_of(FIRST + late))
    (loaded,) = load_days(conn, [DAY]).values()
    assert (loaded.path, loaded.inserted) == (SKIPPING, 2)
    assert len(rows(conn)) == len(FIRST) + 2


@pytest.mark.parametrize("stored_in_span", [False, True], ids=["INSERT", "ON CONFLICT"])
def test_across_the_days_of_one_load_the_earliest_day_wins(
    conn: psycopg.Connection, stored_in_span: bool
) -> None:
    """The same attempt sent for two days (a late record re-sent with the next day) is
    stored once, as the earlier day sent it, whatever order the days are given in."""
    if stored_in_span:
        conn.execute(ALREADY_THERE, (f"{DAY} 12:00:00",))
    twice = f"{DAY} 23:59:00"
    stage(conn, DAY, answer_of([attempt("ann", twice, "day", 1), attempt("bob", f"{DAY} 09:00")]))
    stage(
        conn, NEXT, answer_of([attempt("ann", twice, "next", 0), attempt("cat", f"{NEXT} 09:00")])
    )

    loaded = load_days(conn, [NEXT, DAY])

    assert {day: (it.prepared, it.inserted) for day, it in loaded.items()} == {
        DAY: (2, 2),
        NEXT: (2, 1),
    }
    assert {it.path for it in loaded.values()} == {SKIPPING if stored_in_span else FRESH}
    stored = conn.execute(
        "SELECT lis_result_sourcedid, is_correct FROM public.solutions WHERE user_id = 'ann'"
    ).fetchall()
    assert stored == [("day", 1)]


def test_loading_records_the_counts_and_the_users_first_days(conn: psycopg.Connection) -> None:
    stage(conn, DAY, answer_of([attempt("ann", f"{DAY} 10:00"), attempt("bob", f"{DAY} 11:00")]))
    load_days(conn, [DAY])
    earlier = DAY - timedelta(days=3)
    stage(conn, earlier, answer_of([attempt("ann", f"{earlier} 10:00")]))
    stage(conn, NEXT, answer_of([attempt("bob", f"{NEXT} 10:00"), attempt("cat", f"{NEXT} 09:00")]))
    load_days(conn, [earlier, NEXT])

    # A user's first day only ever moves earlier.
    assert conn.execute(
        "SELECT user_id, first_day FROM bamboo.user_first_day ORDER BY 1"
    ).fetchall() == [
        ("ann", earlier),
        ("bob", DAY),
        ("cat", NEXT),
    ]
    loads = conn.execute(
        "SELECT day, prepared, inserted, loaded_at IS NOT NULL FROM bamboo.day_loads ORDER BY day"
    ).fetchall()
    assert loads == [(earlier, 1, 1, True), (DAY, 2, 2, True), (NEXT, 2, 2, True)]


def test_a_day_without_attempts_loads_nothing(conn: psycopg.Connection) -> None:
    stage(conn, DAY, b"[]")
    (loaded,) = load_days(conn, [DAY]).values()
    assert (loaded.prepared, loaded.inserted, loaded.path) == (0, 0, "nothing staged")
    assert conn.execute("SELECT count(*) FROM public.solutions").fetchone() == (0,)


def test_a_day_never_validated_is_refused(conn: psycopg.Connection) -> None:
    stage(conn, DAY, simulated(DAY, 20))
    assert refused_days(conn, [DAY, NEXT]) == {
        NEXT: f"{NEXT} was never validated: materialize validated_attempts for {NEXT} first"
    }


def test_a_staging_partition_emptied_by_a_crash_is_refused_until_validated_again(
    conn: psycopg.Connection,
) -> None:
    verdict = stage(conn, DAY, answer_of(FIRST + AGAIN))
    stage(conn, NEXT, answer_of([attempt("cat", f"{NEXT} 09:00")]))
    # What crash recovery does to an unlogged table, done behind the loader's back.
    conn.execute("TRUNCATE bamboo.validated_attempts_20250304")

    refused = refused_days(conn, [DAY, NEXT])

    assert list(refused) == [DAY]
    assert refused[DAY] == (
        f"bamboo.validated_attempts holds 0 rows for {DAY}, but validation kept "
        f"{verdict.valid}: its partition is UNLOGGED and PostgreSQL empties it after a crash. "
        f"Nothing was loaded for {DAY}; it is validated again when it is materialized again"
    )
    stage(conn, DAY, answer_of(FIRST + AGAIN))
    assert refused_days(conn, [DAY, NEXT]) == {}


def test_part_of_a_staging_lost_is_refused_too(conn: psycopg.Connection) -> None:
    stage(conn, DAY, answer_of(FIRST))
    conn.execute("DELETE FROM bamboo.validated_attempts WHERE day = %s AND position < 5", (DAY,))
    assert (
        f"holds {len(FIRST) - 5} rows for {DAY}, but validation kept {len(FIRST)}"
        in (refused_days(conn, [DAY])[DAY])
    )


def test_the_unique_index_is_found_and_a_day_can_be_previewed(conn: psycopg.Connection) -> None:
    assert unique_attempt_index(conn) == "unique_check"
    stage(conn, DAY, simulated(DAY, 30))
    stage(conn, NEXT, simulated(NEXT, 30))
    load_days(conn, [DAY, NEXT])
    shown = preview(conn, DAY)
    assert len(shown) == 5
    assert all(created_at.date() == DAY for _, _, _, created_at in shown)
    assert {attempt_type for _, attempt_type, _, _ in shown} <= {"run", "submit"}
    conn.execute("ALTER TABLE public.solutions DROP CONSTRAINT unique_check")
    assert unique_attempt_index(conn) is None
