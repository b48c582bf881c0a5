"""Bamboo's tables, versioned: Alembic migrations bring any earlier schema to the current one.

The revisions in `migrations/versions/` are ordered (0001, 0002, ...), each small and run in
one transaction with the others, so a database is either left as it was or brought to the
current version. Revision 0001 is the schema of Bamboo 0.1.0, written so that it also
applies to an empty database or to one where the notebook created only `public.solutions`.
The version lives in `bamboo.alembic_version`. A run makes the schema current once, under an
advisory lock, before it touches data; a database newer than this code is refused.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_SCHEMA = "bamboo"
_LOCK = "SELECT pg_advisory_lock(0, 0)"  # warehouse.locks.SCHEMA
_UNLOCK = "SELECT pg_advisory_unlock(0, 0)"
_HAS_VERSION = "SELECT to_regclass('bamboo.alembic_version') IS NOT NULL"
_CURRENT = "SELECT max(version_num) FROM bamboo.alembic_version"


# Rows a notebook (or anything else) wrote before Bamboo get their users' first days, once: a
# one-time filter, so it costs nothing once the table has rows.
ADOPT_FIRST_DAYS = """
INSERT INTO bamboo.user_first_day (user_id, first_day)
SELECT user_id, min(created_at)::date FROM public.solutions
WHERE NOT EXISTS (SELECT 1 FROM bamboo.user_first_day)
GROUP BY user_id
"""


class SchemaTooNew(RuntimeError):
    """The warehouse was migrated by a newer Bamboo than this one."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def known_versions() -> tuple[str, ...]:
    """Every schema version this code knows, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return tuple(rev.revision for rev in reversed(list(script.walk_revisions())))


def head() -> str:
    return known_versions()[-1]


def current_version(conn: psycopg.Connection) -> str | None:
    """The warehouse's schema version; None before Bamboo's first migration."""
    if not conn.execute(_HAS_VERSION).fetchone()[0]:
        return None
    return conn.execute(_CURRENT).fetchone()[0]


def make_current(conn: psycopg.Connection, conninfo: str, where: str) -> None:
    """Bring the warehouse `conn` reaches to the current schema if it is not there yet, and
    give rows written before Bamboo their users' first days.

    `conn` holds the lock while Alembic migrates on a connection of its own (`conninfo`).
    """
    version = current_version(conn)
    if version != head():
        _migrate(conn, conninfo, where)
    conn.execute(ADOPT_FIRST_DAYS)


def _migrate(conn: psycopg.Connection, conninfo: str, where: str) -> None:
    _refuse_if_newer(current_version(conn), where)
    conn.execute(_LOCK)  # session lock: a concurrent run waits, then finds nothing to do
    try:
        version = current_version(conn)
        _refuse_if_newer(version, where)
        if version != head():
            upgrade(conninfo)
    finally:
        conn.execute(_UNLOCK)


def _refuse_if_newer(version: str | None, where: str) -> None:
    if version is not None and version not in known_versions():
        raise SchemaTooNew(
            f"the warehouse ({where}) has schema version {version}, newer than this Bamboo "
            f"knows (up to {head()}): a newer release migrated it. Run that release, or "
            "restore a backup taken before the upgrade"
        )


def upgrade(conninfo: str) -> None:
    """Run the pending migrations, in one transaction, on a connection of their own."""
    engine = create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo), poolclass=NullPool
    )
    config = _config()
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
