"""Fixtures of the warehouse tests: a connection to the migrated test database, and a second
database when a test compares two."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from bamboo_assets.warehouse.connection import PostgresWarehouse


@pytest.fixture
def conn(warehouse: PostgresWarehouse) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test database, its schema made current."""
    with warehouse.connect() as connection:
        yield connection


@pytest.fixture
def other_dsn(postgres_uri: str) -> Iterator[str]:
    """A second empty database on the test server."""
    name = f"other_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield psycopg.conninfo.make_conninfo(postgres_uri, dbname=name)
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
