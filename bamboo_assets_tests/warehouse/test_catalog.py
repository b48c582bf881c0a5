"""Dagster's catalog shows the notebook's two tables as a database migrated by this code has
them: each column's name, type and nullability, the UNIQUE and CHECK constraints, and the
table's row count. Compared with PostgreSQL's own catalog, never with literals."""

from __future__ import annotations

import re
from datetime import date

import dagster as dg
import psycopg
import pytest

from bamboo_assets.assets import catalog
from bamboo_assets.definitions import build_definitions
from bamboo_assets.settings import Settings
from bamboo_assets.warehouse import metrics, reports
from bamboo_assets.warehouse.loading import load_days
from bamboo_assets_tests.warehouse.days import simulated, stage

TABLES = {"solutions_table": catalog.SOLUTIONS, "daily_metrics": catalog.DAILY_METRICS}
COLUMNS = """
SELECT attname, format_type(atttypid, atttypmod), NOT attnotnull FROM pg_attribute
WHERE attrelid = %(table)s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
"""
# Constraints of a kind ('c' CHECK, 'u' UNIQUE, 'p' PRIMARY KEY): name, columns in key order,
# and PostgreSQL's own text of the definition.
CONSTRAINTS = """
SELECT c.conname,
    ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n),
    pg_get_constraintdef(c.oid)
FROM pg_constraint c WHERE c.conrelid = %(table)s::regclass AND c.contype = %(kind)s
ORDER BY c.conname
"""
TABLE_UNIQUE = re.compile(r"(\w+): UNIQUE \(([^)]*)\)")


def schema_of(metadata: dict) -> dg.TableSchema:
    return metadata["dagster/column_schema"]


def constraints(conn: psycopg.Connection, table: str, kind: str) -> list[tuple]:
    return conn.execute(CONSTRAINTS, {"table": table, "kind": kind}).fetchall()


def canonical_checks(conn: psycopg.Connection, table: str, checks: list[str]) -> list[str]:
    """PostgreSQL's text for each CHECK expression the catalog gives, on a copy of `table`."""
    with conn.transaction(force_rollback=True):
        conn.execute(f"CREATE TEMP TABLE probe (LIKE {table})")
        for n, expression in enumerate(checks):
            conn.execute(f"ALTER TABLE probe ADD CONSTRAINT probe_{n} CHECK ({expression})")
        return sorted(definition for _, _, definition in constraints(conn, "probe", "c"))


def test_the_assets_show_the_catalogs_columns_and_table_names() -> None:
    defs = build_definitions(Settings.from_env({}))
    graph = defs.resolve_asset_graph()
    for asset, metadata in TABLES.items():
        shown = dict(graph.get(dg.AssetKey(asset)).metadata)
        assert shown["dagster/table_name"] == metadata["dagster/table_name"]
        assert shown["dagster/column_schema"] == schema_of(metadata)
        assert all(column.description for column in schema_of(metadata).columns)


@pytest.mark.parametrize("asset", list(TABLES))
def test_each_column_has_the_tables_name_type_and_nullability_in_order(
    conn: psycopg.Connection, asset: str
) -> None:
    metadata = TABLES[asset]
    table = metadata["dagster/table_name"]
    declared = [
        (
            column.name,
            conn.execute("SELECT %s::regtype::text", (column.type,)).fetchone()[0],
            column.constraints.nullable,
        )
        for column in schema_of(metadata).columns
    ]
    assert declared == conn.execute(COLUMNS, {"table": table}).fetchall()


@pytest.mark.parametrize("asset", list(TABLES))
def test_the_unique_columns_and_constraints_are_the_tables(
    conn: psycopg.Connection, asset: str
) -> None:
    metadata = TABLES[asset]
    table = metadata["dagster/table_name"]
    keys = constraints(conn, table, "p") + constraints(conn, table, "u")
    single = {columns[0] for _, columns, _ in keys if len(columns) == 1}
    declared = {column.name for column in schema_of(metadata).columns if column.constraints.unique}
    assert declared == single

    rules = schema_of(metadata).constraints.other if schema_of(metadata).constraints else []
    declared_unique = [
        (match[1], [name.strip() for name in match[2].split(",")])
        for match in (TABLE_UNIQUE.match(rule) for rule in rules)
        if match
    ]
    assert declared_unique == [
        (name, columns) for name, columns, _ in constraints(conn, table, "u")
    ]


@pytest.mark.parametrize("asset", list(TABLES))
def test_the_check_constraints_are_the_tables_each_on_its_column(
    conn: psycopg.Connection, asset: str
) -> None:
    metadata = TABLES[asset]
    table = metadata["dagster/table_name"]
    checks = constraints(conn, table, "c")
    for column in schema_of(metadata).columns:
        on_column = sorted(
            definition for _, columns, definition in checks if columns == [column.name]
        )
        assert canonical_checks(conn, table, column.constraints.other) == on_column, column.name
    # Every CHECK of the table is on one column, so each is shown with its column above.
    assert all(len(columns) == 1 for _, columns, _ in checks)


def test_the_row_counts_are_the_tables(conn: psycopg.Connection) -> None:
    assert reports.row_count(conn, "solutions") == 0
    days = [date(2025, 3, 1), date(2025, 3, 2)]
    for day in days:
        stage(conn, day, simulated(day, 25))
    load_days(conn, days)
    metrics.refresh(conn, days)
    assert (
        reports.row_count(conn, "solutions")
        == conn.execute("SELECT count(*) FROM public.solutions").fetchone()[0]
    )
    assert reports.row_count(conn, "solutions") > 40
    assert reports.row_count(conn, "daily_metrics") == 2
