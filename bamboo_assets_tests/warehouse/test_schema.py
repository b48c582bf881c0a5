"""The warehouse schema is versioned: a database is brought to the current version once, an
older one is migrated keeping its data, and one migrated by a newer release is refused."""

from __future__ import annotations

import threading
from datetime import date, datetime

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from bamboo_assets.warehouse import ledger, schema
from bamboo_assets.warehouse.connection import PostgresWarehouse
from bamboo_assets.warehouse.schema import SchemaTooNew
from bamboo_assets.warehouse.staging import staged_days
from bamboo_assets_tests.support.bamboo import query

VERSION = "SELECT version_num FROM bamboo.alembic_version"
# What a migration could change: every column of Bamboo's and the notebook's tables.
LAYOUT = """
SELECT table_schema, table_name, column_name, data_type, is_nullable
FROM information_schema.columns WHERE table_schema IN ('bamboo', 'public')
ORDER BY table_schema, table_name, ordinal_position
"""
PERSISTENCE = "SELECT relpersistence FROM pg_class WHERE oid = %s::regclass"


def upgrade_to(dsn: str, revision: str) -> None:
    """Apply the revisions up to `revision` only, the way a release of that version did."""
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=NullPool
    )
    config = Config()
    config.set_main_option("script_location", str(schema.MIGRATIONS))
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


@pytest.fixture
def upgrades(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The migrations run from now on (each call of schema.upgrade), still run for real."""
    calls: list[str] = []
    real = schema.upgrade

    def counted(conninfo: str) -> None:
        calls.append(conninfo)
        real(conninfo)

    monkeypatch.setattr(schema, "upgrade", counted)
    return calls


def test_the_revisions_are_ordered_and_the_head_is_the_last() -> None:
    assert schema.known_versions() == ("0001", "0002", "0003")
    assert schema.head() == "0003"


def test_a_fresh_database_reaches_the_head_once(empty_dsn: str, upgrades: list[str]) -> None:
    warehouse = PostgresWarehouse(dsn=empty_dsn)
    with warehouse.connect() as conn:
        assert schema.current_version(conn) == schema.head()
    assert query(empty_dsn, VERSION) == [(schema.head(),)]
    assert len(upgrades) == 1
    layout = query(empty_dsn, LAYOUT)
    assert ("bamboo", "run_days", "outcome", "text", "NO") in layout
    assert not [row for row in layout if row[1] == "day_failures"]

    with warehouse.connect():  # the same resource: the schema is known to be current
        pass
    with PostgresWarehouse(dsn=empty_dsn).connect():  # another run: looks, finds it current
        pass
    assert len(upgrades) == 1
    assert query(empty_dsn, VERSION) == [(schema.head(),)]
    assert query(empty_dsn, LAYOUT) == layout


def test_runs_starting_at_once_on_a_fresh_database_migrate_it_once(
    empty_dsn: str, upgrades: list[str]
) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run() -> None:
        try:
            start.wait()
            with PostgresWarehouse(dsn=empty_dsn).connect() as conn:
                conn.execute("SELECT count(*) FROM public.solutions")
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(upgrades) == 1
    assert query(empty_dsn, VERSION) == [(schema.head(),)]


def test_a_database_migrated_by_a_newer_release_is_refused_and_left_as_it_is(
    empty_dsn: str, upgrades: list[str]
) -> None:
    with PostgresWarehouse(dsn=empty_dsn).connect():
        pass
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute("UPDATE bamboo.alembic_version SET version_num = '0099'")
    layout = query(empty_dsn, LAYOUT)

    newer = PostgresWarehouse(dsn=empty_dsn)
    with pytest.raises(SchemaTooNew) as refused, newer.connect():
        pass
    message = str(refused.value)
    assert "schema version 0099, newer than this Bamboo knows (up to 0003)" in message
    assert f"({newer.describe()})" in message
    assert "a newer release migrated it" in message
    assert query(empty_dsn, VERSION) == [("0099",)]
    assert query(empty_dsn, LAYOUT) == layout
    assert len(upgrades) == 1  # the first connect only


def test_an_empty_database_with_the_notebooks_table_keeps_it_and_its_rows(
    empty_dsn: str,
) -> None:
    """The notebook created public.solutions itself; Bamboo adopts it, and gives the users of
    its rows their first days."""
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(
            """
            CREATE TABLE public.solutions (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY
                , user_id TEXT NOT NULL
                , oauth_consumer_key TEXT
                , lis_result_sourcedid TEXT
                , lis_outcome_service_url TEXT
                , is_correct INT CHECK (is_correct in (0, 1) OR is_correct is NULL)
                , attempt_type TEXT CHECK (attempt_type in ('run', 'submit')) NOT NULL
                , created_at TIMESTAMP NOT NULL
                , CONSTRAINT unique_check UNIQUE (user_id, created_at)
            )
            """
        )
        conn.execute(
            "INSERT INTO public.solutions (user_id, attempt_type, created_at) VALUES"
            " ('ann', 'run', '2025-03-02 10:00'), ('ann', 'run', '2025-03-01 09:00'),"
            " ('bob', 'run', '2025-03-02 11:00')"
        )
    with PostgresWarehouse(dsn=empty_dsn).connect() as conn:
        assert schema.current_version(conn) == schema.head()
    assert query(empty_dsn, "SELECT count(*) FROM public.solutions") == [(3,)]
    assert query(empty_dsn, "SELECT user_id, first_day FROM bamboo.user_first_day ORDER BY 1") == [
        ("ann", date(2025, 3, 1)),
        ("bob", date(2025, 3, 2)),
    ]


def test_revision_0002_makes_a_logged_staging_partition_unlogged_and_keeps_its_rows(
    empty_dsn: str,
) -> None:
    upgrade_to(empty_dsn, "0001")
    partition = "bamboo.validated_attempts_20250301"
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bamboo.validated_attempts_20250301 PARTITION OF bamboo.validated_attempts"
            " FOR VALUES IN ('2025-03-01')"
        )
        conn.execute(
            "INSERT INTO bamboo.validated_attempts_20250301"
            " (day, position, user_id, attempt_type, created_at)"
            " VALUES ('2025-03-01', 0, 'ann', 'run', '2025-03-01 10:00')"
        )
    assert query(empty_dsn, PERSISTENCE, (partition,)) == [("p",)]

    with PostgresWarehouse(dsn=empty_dsn).connect() as conn:
        assert schema.current_version(conn) == schema.head()
        assert staged_days(conn) == {date(2025, 3, 1)}
    assert query(empty_dsn, PERSISTENCE, (partition,)) == [("u",)]
    staged = "SELECT user_id FROM bamboo.validated_attempts_20250301"
    assert query(empty_dsn, staged) == [("ann",)]


def test_revision_0003_keeps_each_failure_of_0_1_0_as_a_failed_day_of_the_run_ledger(
    empty_dsn: str,
) -> None:
    upgrade_to(empty_dsn, "0002")
    failed_at = datetime.fromisoformat("2025-03-02T04:00:00+00:00")
    with psycopg.connect(empty_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO bamboo.day_failures (run_id, day, step, reason, failed_at) VALUES"
            " ('r1', '2025-03-01', 'raw_attempts', 'HTTP 503', %(at)s),"
            " ('r1', '2025-03-02', 'validated_attempts', 'not valid JSON', %(at)s),"
            " ('r2', '2025-03-01', 'solutions_table', 'lost', %(at)s)",
            {"at": failed_at},
        )

    with PostgresWarehouse(dsn=empty_dsn).connect() as conn:
        assert schema.current_version(conn) == schema.head()
        assert conn.execute("SELECT to_regclass('bamboo.day_failures')").fetchone() == (None,)
        rows = conn.execute(
            "SELECT run_id, day::text, root_run_id, backfill_id, outcome, step, reason,"
            " recorded_at FROM bamboo.run_days ORDER BY run_id, day"
        ).fetchall()
        # A failed day of 0.1.0 is not done: a re-execution under its root does it again.
        assert ledger.done_by_root(conn, "r1", [date(2025, 3, 1), date(2025, 3, 2)]) == set()
    assert rows == [
        ("r1", "2025-03-01", "r1", None, "failed", "raw_attempts", "HTTP 503", failed_at),
        ("r1", "2025-03-02", "r1", None, "failed", "validated_attempts", "not valid JSON",
         failed_at),
        ("r2", "2025-03-01", "r2", None, "failed", "solutions_table", "lost", failed_at),
    ]  # fmt: skip
