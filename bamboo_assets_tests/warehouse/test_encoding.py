"""A warehouse database that is not UTF8 is refused with the fix, before anything is written.

On SQL_ASCII, psycopg returns names as bytes, and text outside ASCII could not be stored as
the API sent it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from bamboo_assets.warehouse.connection import PostgresWarehouse, WarehouseNotUtf8
from bamboo_assets_tests.support.bamboo import query


@pytest.fixture
def sql_ascii_dsn(postgres_uri: str) -> Iterator[str]:
    """A database as `createdb` makes it on a server initialised without a locale."""
    name = f"ascii_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(
            f"CREATE DATABASE \"{name}\" ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
            "TEMPLATE template0"
        )
    yield psycopg.conninfo.make_conninfo(postgres_uri, dbname=name)
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_a_sql_ascii_warehouse_is_refused_naming_the_database_and_the_fix(
    sql_ascii_dsn: str,
) -> None:
    name = psycopg.conninfo.conninfo_to_dict(sql_ascii_dsn)["dbname"]
    with pytest.raises(WarehouseNotUtf8) as refused, PostgresWarehouse(dsn=sql_ascii_dsn).connect():
        pass
    message = str(refused.value)
    assert message.startswith(f"the warehouse database {name} (database {name} on ")
    assert "uses SQL_ASCII; Bamboo needs a UTF8 database: create it with ENCODING 'UTF8'" in (
        message
    )
    assert "user_first_day" not in message
    # Refused before the schema was created: nothing to clean up in the wrong database.
    assert query(sql_ascii_dsn, "SELECT 1 FROM pg_namespace WHERE nspname = 'bamboo'") == []


def test_a_utf8_warehouse_is_accepted_and_keeps_text_outside_ascii(
    warehouse: PostgresWarehouse,
) -> None:
    with warehouse.connect() as conn:
        assert conn.info.parameter_status("server_encoding") == "UTF8"
        conn.execute(
            "INSERT INTO public.solutions (user_id, attempt_type, created_at)"
            " VALUES (%s, 'run', '2025-03-01 10:00')",
            ("Жанна-中-\U0001f600",),
        )
        assert conn.execute("SELECT user_id FROM public.solutions").fetchone() == (
            "Жанна-中-\U0001f600",
        )
