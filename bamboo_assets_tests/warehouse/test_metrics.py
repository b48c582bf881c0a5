"""public.daily_metrics equals the notebook's query over the whole of public.solutions, whatever
order days are loaded in; the reconciliation finds a day that does not."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.warehouse import metrics
from bamboo_assets.warehouse.connection import PostgresWarehouse
from bamboo_assets.warehouse.loading import load_days
from bamboo_assets_tests.support.bamboo import notebook_metrics, stored_metrics
from bamboo_assets_tests.warehouse.days import answer_of, attempt, simulated, stage

FIRST = date(2025, 3, 3)
DAYS = [FIRST + timedelta(days=n) for n in range(5)]


def load(conn: psycopg.Connection, days: list[date]) -> metrics.Refresh:
    """What solutions_table and daily_metrics do for `days` in one run."""
    for day in days:
        stage(conn, day, simulated(day, 60))
    load_days(conn, days)
    return metrics.refresh(conn, days)


@pytest.mark.parametrize(
    "runs",
    [
        [DAYS],
        [[day] for day in DAYS],
        [[day] for day in reversed(DAYS)],
        [DAYS[3:], DAYS[:2], DAYS[2:3]],  # backfills of earlier days after the later ones
        [DAYS[1::2], DAYS[::2], DAYS[2:4]],  # a reload of days already there, too
    ],
    ids=["one run", "day by day", "backwards", "backfill earlier", "interleaved and again"],
)
def test_the_metrics_equal_the_notebooks_query_whatever_order_days_are_loaded_in(
    conn: psycopg.Connection, database_dsn: str, runs: list[list[date]]
) -> None:
    for days in runs:
        load(conn, days)
        assert stored_metrics(database_dsn) == notebook_metrics(database_dsn)
    assert [row[0] for row in stored_metrics(database_dsn)] == [str(day) for day in DAYS]


def test_backfilling_an_earlier_day_moves_first_days_and_recomputes_later_new_users(
    conn: psycopg.Connection, database_dsn: str
) -> None:
    d1, d2, d3 = DAYS[:3]
    stage(conn, d3, answer_of([attempt("ann", f"{d3} 10:00"), attempt("bob", f"{d3} 11:00")]))
    stage(conn, d2, answer_of([attempt("cat", f"{d2} 10:00")]))
    load_days(conn, [d2, d3])
    metrics.refresh(conn, [d2, d3])
    assert stored_metrics(database_dsn) == [(str(d2), 1, 1, 1, 1), (str(d3), 2, 2, 2, 2)]

    # ann studied on d1 already: d3 now has one new user fewer, without d3 being loaded.
    stage(conn, d1, answer_of([attempt("ann", f"{d1} 08:00", is_correct=0)]))
    load_days(conn, [d1])
    refresh = metrics.refresh(conn, [d1])

    assert refresh.recomputed == [d1]
    assert refresh.changed == {
        str(d1): DayMetrics(str(d1), 1, 0, 1, 1),
        str(d3): DayMetrics(str(d3), 2, 2, 2, 1),
    }
    assert stored_metrics(database_dsn) == notebook_metrics(database_dsn)


def test_a_reload_that_changes_nothing_reports_no_change(conn: psycopg.Connection) -> None:
    load(conn, DAYS[:2])
    refresh = load(conn, DAYS[:2])
    assert refresh.recomputed == DAYS[:2]
    assert refresh.changed == {}


def test_the_study_days_are_those_of_the_rows_not_of_the_request(
    conn: psycopg.Connection, database_dsn: str
) -> None:
    """A late record of the day before, sent with a day, counts on its own day."""
    d1, d2 = DAYS[:2]
    stage(conn, d2, answer_of([attempt("ann", f"{d1} 23:59"), attempt("bob", f"{d2} 10:00")]))
    load_days(conn, [d2])
    refresh = metrics.refresh(conn, [d2])
    assert refresh.recomputed == [d1, d2]
    assert stored_metrics(database_dsn) == notebook_metrics(database_dsn)
    assert [row[0] for row in stored_metrics(database_dsn)] == [str(d1), str(d2)]


def test_nothing_staged_recomputes_nothing(conn: psycopg.Connection) -> None:
    stage(conn, FIRST, b"[]")
    load_days(conn, [FIRST])
    assert metrics.refresh(conn, [FIRST]) == metrics.Refresh([], {})


def test_a_table_the_notebook_filled_is_measured_whole_on_the_first_refresh(
    database_dsn: str,
) -> None:
    with PostgresWarehouse(dsn=database_dsn).connect() as conn:
        for day in DAYS[:3]:
            stage(conn, day, simulated(day, 40))
        load_days(conn, DAYS[:3])
        # Forget what Bamboo knows: as if the notebook had filled public.solutions.
        conn.execute("TRUNCATE bamboo.user_first_day, public.daily_metrics")
    with PostgresWarehouse(dsn=database_dsn).connect() as conn:  # adopts the first days
        refresh = metrics.refresh(conn, [])
        assert refresh.recomputed == DAYS[:3]
        assert stored_metrics(database_dsn) == notebook_metrics(database_dsn)
        assert metrics.refresh(conn, []) == metrics.Refresh([], {})  # measured once


def test_the_reconciliation_finds_a_tampered_day(
    conn: psycopg.Connection, database_dsn: str
) -> None:
    load(conn, DAYS)
    assert metrics.mismatched_days(conn, DAYS) == []
    assert metrics.mismatched_days(conn, []) == []

    conn.execute(
        "UPDATE public.daily_metrics SET correct_attempts_per_day = correct_attempts_per_day + 1"
        " WHERE study_date = %s",
        (DAYS[1],),
    )
    assert metrics.mismatched_days(conn, DAYS) == [str(DAYS[1])]
    assert metrics.mismatched_days(conn, [DAYS[0], DAYS[2]]) == []

    conn.execute("DELETE FROM public.daily_metrics WHERE study_date = %s", (DAYS[3],))
    assert metrics.mismatched_days(conn, DAYS) == [str(DAYS[1]), str(DAYS[3])]


def test_the_reconciliation_finds_rows_changed_behind_bamboos_back(
    conn: psycopg.Connection,
) -> None:
    """Recomputed from public.solutions itself: a first day or an attempt changed there shows."""
    load(conn, DAYS[:3])
    (user,) = conn.execute(
        "SELECT user_id FROM public.solutions WHERE created_at::date = %s LIMIT 1", (DAYS[2],)
    ).fetchone()
    conn.execute(
        "INSERT INTO public.solutions (user_id, attempt_type, created_at) VALUES (%s, 'run', %s)",
        (f"{user}-new", f"{DAYS[2]} 12:00:00.5"),
    )
    assert metrics.mismatched_days(conn, DAYS[:3]) == [str(DAYS[2])]
