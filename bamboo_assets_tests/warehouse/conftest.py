"""Fixtures of the warehouse tests: a connection to the migrated test database."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from bamboo_assets.warehouse.connection import PostgresWarehouse


@pytest.fixture
def conn(warehouse: PostgresWarehouse) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test database, its schema made current."""
    with warehouse.connect() as connection:
        yield connection
