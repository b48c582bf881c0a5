"""A Docker engine and a compose project for the deployment test: found or started, and torn
down (containers, volumes, the image built, the dockerd started) whatever happens.

Without a usable engine the test is skipped with the reason; with BAMBOO_REQUIRE_DOCKER=1 (what
.ci/run sets) it fails instead, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from bamboo_assets_tests.dagster_processes import REPO

COMPOSE_FILE = REPO / "deploy" / "compose" / "compose.yaml"
STANDIN_SCRIPT = REPO / "deploy" / "compose" / "standin-images.sh"
REQUIRE = "BAMBOO_REQUIRE_DOCKER"


def unavailable(reason: str) -> None:
    """Skip the deployment test, or fail it where Docker is required."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{REQUIRE}=1 but {reason}", pytrace=False)
    pytest.skip(f"deployment test needs Docker: {reason} (set {REQUIRE}=1 to make this a failure)")


def engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@contextmanager
def docker_engine(log: Path) -> Iterator[None]:
    """The running engine, or one started here (root only) and stopped afterwards."""
    if not shutil.which("docker"):
        unavailable("the docker client is not installed")
    if engine_answers():
        yield
        return
    if not shutil.which("dockerd") or os.geteuid() != 0:
        unavailable("no Docker engine answers and this user cannot start dockerd")
    with log.open("wb") as out:
        dockerd = subprocess.Popen(
            ["dockerd"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while not engine_answers():
            if dockerd.poll() is not None or time.monotonic() > deadline:
                unavailable(f"dockerd did not start: {log.read_text(errors='replace')[-1500:]}")
            time.sleep(0.5)
        yield
    finally:
        dockerd.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            dockerd.wait(timeout=30)
        if dockerd.poll() is None:
            dockerd.kill()
            dockerd.wait(timeout=10)


def compose_command() -> list[str]:
    """`docker compose` (v2) where it exists, else docker-compose 1.29."""
    v2 = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    if v2.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    unavailable("neither `docker compose` nor docker-compose is installed")
    raise AssertionError("unreachable")


def run(args: Sequence[str], timeout: float, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        list(args), cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited with {done.returncode}\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}"
        )
    return done


class ComposeProject:
    """deploy/compose/compose.yaml under its own project name and env file."""

    def __init__(self, name: str, env_file: Path):
        self.base = [*compose_command(), "-p", name, "-f", str(COMPOSE_FILE)]
        self.base += ["--env-file", str(env_file)]
        self.name = name

    def __call__(self, *args: str, timeout: float = 300, check: bool = True):
        return run([*self.base, *args], timeout, check)

    def sql(self, statement: str) -> str:
        """One value from the warehouse, through psql inside the postgres container."""
        done = self(
            "exec", "-T", "postgres", "psql", "-U", "bamboo", "-d", "bamboo", "-tAc", statement,
            timeout=60,
        )  # fmt: skip
        return done.stdout.strip()

    def containers(self) -> list[str]:
        return self("ps", "-q", timeout=60).stdout.split()
