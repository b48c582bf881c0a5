"""A warehouse database that is not UTF8 is refused with the fix, before anything is written.

On SQL_ASCII, psycopg returns names as bytes, and Bamboo used to fail later with
`relation "bamboo.user_first_day" does not exist`.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bamboo_assets.resources.warehouse import PostgresWarehouse
from bamboo_assets_tests.faults import failure_message, step_errors
from bamboo_assets_tests.helpers import local_resources, materialize_days, query

DAY = "2025-03-01"


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
    with pytest.raises(ValueError) as refused, PostgresWarehouse(dsn=sql_ascii_dsn).connect():
        pass
    assert str(refused.value).startswith(f"the warehouse database {name} (database {name} on ")
    assert "uses SQL_ASCII; Bamboo needs a UTF8 database: create it with ENCODING 'UTF8'" in (
        str(refused.value)
    )
    # Refused before the schema was created: nothing to clean up in the wrong database.
    assert query(sql_ascii_dsn, "SELECT 1 FROM pg_namespace WHERE nspname = 'bamboo'") == []


def test_a_run_on_a_sql_ascii_warehouse_fails_with_that_message(
    sql_ascii_dsn: str, bamboo_home: Path
) -> None:
    warehouse = PostgresWarehouse(dsn=sql_ascii_dsn)
    result = materialize_days(DAY, DAY, local_resources(bamboo_home, warehouse, 20))
    assert not result.success
    assert sorted(step_errors(result)) == ["validated_attempts"]  # first to need the warehouse
    message = failure_message(result, "validated_attempts")
    assert message.startswith("bamboo_assets.resources.warehouse.WarehouseNotUtf8: ")
    assert "uses SQL_ASCII; Bamboo needs a UTF8 database" in message
    assert "user_first_day" not in message


def test_a_utf8_warehouse_is_accepted(warehouse: PostgresWarehouse) -> None:
    with warehouse.connect() as conn:
        assert conn.info.parameter_status("server_encoding") == "UTF8"
