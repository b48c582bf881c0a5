"""Dagster's instance storage in PostgreSQL, configured by deploy/dagster.yaml itself.

A CLI run of one day partition goes through an instance whose dagster.yaml is the production
file, unchanged, with DAGSTER_PG_* pointing at a database of its own on the embedded test
server; the run and its events are then read back from that database.

The embedded server listens on a Unix socket only. dagster-postgres turns the `postgres_db`
fields into `postgresql+psycopg2://USER@HOST:PORT/DB`, and SQLAlchemy cannot take a socket
directory as HOST there (the slashes make it part of the database name). DAGSTER_PG_HOST is
therefore empty: libpq, under psycopg2, then takes the host from PGHOST, which may be a socket
directory. DAGSTER_PG_PORT still matters, it names the socket file (`.s.PGSQL.<port>`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from sqlalchemy.engine import make_url

from bamboo_assets_tests.support.bamboo import LINEAGE, query
from bamboo_assets_tests.support.dagster_processes import (
    REPO,
    bamboo_env,
    socket_directory_and_port,
)

pytestmark = pytest.mark.slow

PRODUCTION_INSTANCE = REPO / "deploy" / "dagster.yaml"
DAY = "2025-03-01"


@pytest.fixture
def instance_database(postgres_uri: str) -> Iterator[str]:
    """Dagster's own database, next to (never inside) the warehouse database."""
    name = f"dagster_instance_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def instance_env(postgres_uri: str, instance_database: str) -> dict[str, str]:
    """The DAGSTER_PG_* variables deploy/dagster.yaml reads, for the embedded server."""
    socket_directory, port = socket_directory_and_port(postgres_uri)
    user = psycopg.conninfo.conninfo_to_dict(postgres_uri).get("user") or "postgres"
    return {
        "DAGSTER_PG_USERNAME": str(user),
        "DAGSTER_PG_PASSWORD": "",  # the embedded server trusts local connections
        "DAGSTER_PG_HOST": "",  # see the module docstring: the socket comes from PGHOST
        "DAGSTER_PG_DB": instance_database,
        "DAGSTER_PG_PORT": port,
        "PGHOST": socket_directory,
    }


def test_a_cli_run_is_stored_in_postgresql_through_the_production_instance_config(
    tmp_path: Path,
    postgres_uri: str,
    database_dsn: str,
    instance_database: str,
    instance_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(PRODUCTION_INSTANCE, dagster_home / "dagster.yaml")
    env = bamboo_env(tmp_path / "bamboo", database_dsn, dagster_home) | instance_env

    result = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize"]
        + ["-m", "bamboo_assets.definitions", "--select", "*", "--partition", DAY],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-4000:]

    # The same instance, opened in this process from the same DAGSTER_HOME and variables.
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    for name, value in instance_env.items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        url = make_url(instance.run_storage.postgres_url)
        assert (url.drivername, url.database) == ("postgresql+psycopg2", instance_database)
        assert url.get_dialect().driver == "psycopg2"  # not psycopg 3: NOTIFY works

        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition"] == DAY
        events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        materializations = [event.asset_materialization for event in events]
        materialized = {(m.asset_key.to_user_string(), m.partition) for m in materializations if m}
        assert materialized == {(name, DAY) for name in LINEAGE}

    # Straight from Dagster's tables, so none of the above came from a file in DAGSTER_HOME.
    instance_dsn = psycopg.conninfo.make_conninfo(postgres_uri, dbname=instance_database)
    assert query(instance_dsn, "SELECT run_id, status FROM runs") == [(run.run_id, "SUCCESS")]
    stored_events = query(
        instance_dsn,
        "SELECT asset_key, partition FROM event_logs"
        " WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        (run.run_id,),
    )
    assert sorted(stored_events) == sorted((f'["{name}"]', DAY) for name in LINEAGE)
    assert not list(dagster_home.rglob("*.db")), "a SQLite storage was created in DAGSTER_HOME"

    # Two databases: the warehouse holds the data and none of Dagster's tables, and the other
    # way round.
    assert query(
        database_dsn, "SELECT count(*) FROM public.daily_metrics WHERE study_date = %s", (DAY,)
    ) == [(1,)]
    tables = "SELECT table_name FROM information_schema.tables WHERE table_name = %s"
    assert query(database_dsn, tables, ("runs",)) == []
    assert query(instance_dsn, tables, ("solutions",)) == []
