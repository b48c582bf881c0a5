"""Dagster's own processes in tests: their environment, free ports, and a teardown that ends
every process they started (webserver, daemon, code servers, run workers), even on failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# Not inherited by the processes under test: anything that would switch a Bamboo resource to a
# real outside system (ITRESUME_*, SMTP_*, DASHBOARD_*, GOOGLE_*, the legacy spellings), point
# Bamboo or Dagster at another home or database (BAMBOO_*, DAGSTER_*, DB_DSN_*), or redirect
# libpq (PG*). Each test then sets exactly what it means.
NOT_INHERITED = (
    "ITRESUME_",
    "CLIENT_KEY_",
    "SMTP_",
    "GOOGLE_",
    "DASHBOARD_",
    "DIGEST_",
    "BAMBOO_",
    "DB_DSN",
    "DAGSTER_",
    "PG",
)


# What Bamboo's deployments set for Dagster (the Makefile and the image do): one planned event
# per asset and run, and materializations written in batches.
DAGSTER_TUNING = {
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    "DAGSTER_EVENT_BATCH_SIZE": "500",
}


def bamboo_env(bamboo_home: Path, database_dsn: str, dagster_home: Path) -> dict[str, str]:
    """Bamboo on local defaults (simulated API, CSV dashboard, outbox) with its warehouse in
    `database_dsn`, and Dagster's instance in `dagster_home`, tuned as deployments tune it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
    env.update(
        BAMBOO_HOME=str(bamboo_home),
        BAMBOO_DB_DSN=database_dsn,
        BAMBOO_SIMULATED_RECORDS_PER_DAY="200",
        DAGSTER_HOME=str(dagster_home),
        PYTHONUNBUFFERED="1",
        **DAGSTER_TUNING,
    )
    return env


def socket_directory_and_port(postgres_uri: str) -> tuple[str, str]:
    """Where the embedded server listens: its Unix-socket directory and port."""
    params = psycopg.conninfo.conninfo_to_dict(postgres_uri)
    host = str(params.get("host") or "")
    assert host.startswith("/"), f"expected a Unix-socket server, got host {host!r}"
    return host, str(params.get("port") or "5432")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DagsterProcess:
    """A command started in its own process group, its output in a log file."""

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], log: Path):
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                list(args),
                cwd=REPO,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches its children
            )

    def exit_code(self) -> int | None:
        return self.popen.poll()

    def log_tail(self, chars: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- last output of {self.name} ---\n{text[-chars:]}"

    def _signal_group(self, sig: signal.Signals) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, grace_seconds: float = 15) -> None:
        """SIGTERM to the whole group, then SIGKILL to whatever is left of it."""
        self._signal_group(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace_seconds)
        # Children (gRPC code servers, run workers) may outlive the group leader.
        self._signal_group(signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


@contextmanager
def running(
    name: str, args: Sequence[str], env: Mapping[str, str], log_dir: Path
) -> Iterator[DagsterProcess]:
    process = DagsterProcess(name, args, env, log_dir / f"{name}.log")
    try:
        yield process
    finally:
        process.stop()


def wait_until(
    condition_met: Callable[[], bool],
    timeout: float,
    what: str,
    processes: Sequence[DagsterProcess] = (),
) -> None:
    """Poll `condition_met()` until true; fail early if one of `processes` has exited."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        for process in processes:
            if process.exit_code() is not None:
                raise AssertionError(
                    f"{process.name} exited with {process.exit_code()} while waiting for "
                    f"{what}\n{process.log_tail()}"
                )
        try:
            if condition_met():
                return
        except AssertionError:
            raise  # a definite failure (say, a code location that failed to load)
        except Exception as error:  # not ready yet; kept for the failure message
            last_error = f"{type(error).__name__}: {error}"
        time.sleep(0.5)
    tails = "\n".join(process.log_tail() for process in processes)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what}. {last_error}\n{tails}"
    )
