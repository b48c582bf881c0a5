"""Warehouse databases for the tests that run Bamboo: each a copy of one database that Bamboo's
migrations brought to the current schema once per session.

A copy is what a deployment's warehouse is after its first run, made in a fifth of the time the
migrations take; the migrations themselves, from an empty database and from every earlier
version, are tested in bamboo_assets_tests/warehouse and operations. A test about a database
Bamboo never touched (a table the notebook made, a role that must own what Bamboo creates)
asks for an empty one instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from bamboo_assets.warehouse.connection import PostgresWarehouse


@contextmanager
def new_database(postgres_uri: str, template: str | None = None) -> Iterator[str]:
    """A new database on the test server (a copy of `template`, else empty); its DSN."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        # FILE_COPY copies the template's files instead of writing each page to the WAL: on
        # the test server, which skips fsync, that is several times faster on a busy machine.
        admin.execute(f'CREATE DATABASE "{name}"{copy} STRATEGY FILE_COPY')
    try:
        yield psycopg.conninfo.make_conninfo(postgres_uri, dbname=name)
    finally:
        with psycopg.connect(postgres_uri, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@contextmanager
def migrated_template(postgres_uri: str) -> Iterator[str]:
    """A database at Bamboo's current schema, made by Bamboo itself; its name."""
    with new_database(postgres_uri) as dsn:
        with PostgresWarehouse(dsn=dsn).connect():
            pass  # the first connection of a run makes the schema current
        yield psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
