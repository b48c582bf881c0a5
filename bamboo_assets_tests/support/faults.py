"""What the failure and secret tests share: answers to serve, and what a user sees of a run.

Faults themselves are injected in the fake servers (bamboo_assets_tests/servers); this module
only builds answers, reads a run's event log the way the UI shows it, and watches
PostgreSQL's pg_stat_activity to interrupt a load at a known point.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

import dagster as dg
import psycopg
from dagster._serdes import serialize_value
from dagster._utils.error import SerializableErrorInfo
from psycopg import sql as pgsql

from bamboo_assets.core.simulator import records_for, simulated_answer

APPLICATION = "bamboo"  # application_name of every warehouse connection


class Answers:
    """The fake statistics API's answer per day: set per test, else a small simulated day."""

    def __init__(self, records_per_day: int = 30) -> None:
        self.by_day: dict[str, bytes] = {}
        self.records_per_day = records_per_day

    def __call__(self, params: dict[str, str]) -> bytes:
        day = params["start"][:10]
        if day in self.by_day:
            return self.by_day[day]
        return simulated(date.fromisoformat(day), self.records_per_day)


def simulated(day: date, records: int) -> bytes:
    """The simulated API's exact answer for `day` with about `records` records."""
    return b"".join(simulated_answer(day, records_for(day, records)))


def answer_of(records: Sequence[Any]) -> bytes:
    """A JSON list whose element texts are exactly `json.dumps(record)` (ASCII escapes)."""
    return ("[" + ", ".join(json.dumps(record) for record in records) + "]").encode()


def error_text(error: SerializableErrorInfo | None) -> str:
    """An error as the UI shows it: message and stack, then its cause and context."""
    if error is None:
        return ""
    parts = [error.message, *error.stack]
    parts += [error_text(error.cause), error_text(error.context)]
    return "\n".join(part for part in parts if part)


def step_errors(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Failed step → the error a user reads on it."""
    return {
        event.step_key or "": error_text(event.step_failure_data.error)
        for event in result.all_events
        if event.is_step_failure
    }


def failure_message(result: dg.ExecuteInProcessResult, step: str) -> str:
    """The top message of one failed step (what the run page's error line says)."""
    for event in result.all_events:
        if event.is_step_failure and event.step_key == step:
            error = event.step_failure_data.error
            while error.cause is not None and "DagsterExecutionStepExecutionError" in (
                error.cls_name or ""
            ):
                error = error.cause
            return error.message
    raise AssertionError(f"step {step} did not fail; failed: {sorted(step_errors(result))}")


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    """Names of the assets the run materialized."""
    return {
        event.asset_key.to_user_string()
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION and event.asset_key
    }


def run_log(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Every message of the run's event log, user log lines included, in order."""
    return [entry.user_message for entry in instance.all_logs(run_id)]


def everything_recorded(instance: dg.DagsterInstance, run_id: str) -> str:
    """The run and its whole event log, serialized: what the instance stores and the UI reads."""
    run = instance.get_run_by_id(run_id)
    texts = [serialize_value(run)] if run is not None else []
    texts += [serialize_value(entry) for entry in instance.all_logs(run_id)]
    return "\n".join(texts)


def day_counts(dsn: str, day: date) -> dict[str, int]:
    """What the warehouse holds for one day: validated, rejected, solutions, day_loads rows."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('public.solutions')").fetchone() == (None,):
            return {"validated": 0, "rejected": 0, "solutions": 0, "day_loads": 0}
        one = conn.execute(
            "SELECT (SELECT count(*) FROM bamboo.validated_attempts WHERE day = %(d)s),"
            " (SELECT count(*) FROM bamboo.rejected_attempts WHERE day = %(d)s),"
            " (SELECT count(*) FROM public.solutions"
            "  WHERE created_at >= %(d)s AND created_at < %(d)s::date + 1),"
            " (SELECT count(*) FROM bamboo.day_loads WHERE day = %(d)s)",
            {"d": day},
        ).fetchone()
    assert one is not None
    return dict(zip(("validated", "rejected", "solutions", "day_loads"), one, strict=True))


def database_name(dsn: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]


def wait_for_statement(
    admin_uri: str, database: str, prefix: str, timeout: float = 60.0
) -> int | None:
    """The pid of Bamboo's backend in `database` once it is running a statement that starts
    with `prefix`; None if none did within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_uri, autocommit=True) as admin:
        while time.monotonic() < deadline:
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
                " AND state = 'active' AND ltrim(query, E' \\t\\r\\n') LIKE %s",
                (database, APPLICATION, prefix + "%"),
            ).fetchone()
            if row:
                return row[0]
            time.sleep(0.002)
    return None


def wait_until_gone(admin_uri: str, pids: Iterable[int], timeout: float = 30.0) -> None:
    """Wait until the backends `pids` have ended (a killed client's backend ends by itself)."""
    wanted = list(pids)
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_uri, autocommit=True) as admin:
        while time.monotonic() < deadline:
            alive = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (wanted,)
            ).fetchone()
            if alive == (0,):
                return
            time.sleep(0.02)
    raise AssertionError(f"backends {wanted} still running after {timeout}s")


class Terminator(threading.Thread):
    """Terminates Bamboo's backend as soon as it runs a statement starting with `prefix`,
    then calls `then` (also when no such statement came within `timeout` seconds)."""

    def __init__(
        self,
        admin_uri: str,
        database: str,
        prefix: str,
        then: Callable[[], None] | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(daemon=True)
        self.admin_uri, self.database, self.prefix = admin_uri, database, prefix
        self.then, self.timeout = then, timeout
        self.terminated: int | None = None

    def run(self) -> None:
        try:
            pid = wait_for_statement(self.admin_uri, self.database, self.prefix, self.timeout)
            if pid is not None:
                with psycopg.connect(self.admin_uri, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                self.terminated = pid
        finally:
            if self.then is not None:
                self.then()


def role_with_password(admin_uri: str, dsn: str, role: str, password: str) -> str:
    """A login role that must give `password` (the test server trusts everyone else), owning
    the database of `dsn`; returns `dsn` for that role and password."""
    with psycopg.connect(admin_uri, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            admin.execute(
                pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    pgsql.Identifier(role), pgsql.Literal(password)
                )
            )
        admin.execute(
            pgsql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                pgsql.Identifier(database_name(dsn)), pgsql.Identifier(role)
            )
        )
        hba_file = admin.execute("SHOW hba_file").fetchone()
        assert hba_file is not None
        with open(hba_file[0], encoding="utf-8") as hba:
            rules = hba.read()
        line = f"local all {role} scram-sha-256\n"
        if line not in rules:
            with open(hba_file[0], "w", encoding="utf-8") as hba:
                hba.write(line + rules)
            admin.execute("SELECT pg_reload_conf()")
    with_password = psycopg.conninfo.make_conninfo(dsn, user=role, password=password)
    refused = psycopg.conninfo.make_conninfo(dsn, user=role, password="not-" + password)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the reload reaches new connections shortly
        try:
            psycopg.connect(refused).close()
        except psycopg.OperationalError:
            return with_password
        time.sleep(0.05)
    raise AssertionError(f"PostgreSQL still lets {role} in without its password")
