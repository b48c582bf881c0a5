"""A Docker engine and compose projects for the deployment tests: found or started, and torn
down (containers, volumes, the images built, the dockerd started) whatever happens.

Without a usable engine the tests are skipped with the reason; with BAMBOO_REQUIRE_DOCKER=1
(what .ci/run sets) they fail instead, so CI cannot pass by skipping.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bamboo_assets_tests.deployment.ui_client import UiClient
from bamboo_assets_tests.support.dagster_processes import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "deploy" / "compose" / "compose.yaml"
STANDIN_SCRIPT = REPO / "deploy" / "compose" / "standin-images.sh"
DOCKERFILE = REPO / "Dockerfile"
REQUIRE = "BAMBOO_REQUIRE_DOCKER"
DAGSTER_SERVICES = ("code-location", "webserver", "daemon")


def unavailable(reason: str) -> None:
    """Skip the deployment tests, or fail them where Docker is required."""
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


def run(
    args: Sequence[str], timeout: float, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        list(args), cwd=REPO, input=stdin, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited with {done.returncode}\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}"
        )
    return done


def inspect(container: str) -> dict:
    return json.loads(run(["docker", "inspect", container], timeout=60).stdout)[0]


def image_id(image: str) -> str:
    return run(["docker", "image", "inspect", "-f", "{{.Id}}", image], timeout=60).stdout.strip()


def base_images() -> list[str]:
    """The public images the stack starts from: the Dockerfile's FROM and compose's others."""
    (python,) = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), flags=re.M)
    compose = COMPOSE_FILE.read_text()
    (postgres,) = re.findall(r"^\s+image:\s+(postgres:\S+)", compose, flags=re.M)
    return [python, postgres, ui_image()]


def ui_image() -> str:
    (nginx,) = re.findall(r"^\s+image:\s+(nginx:\S+)", COMPOSE_FILE.read_text(), flags=re.M)
    return nginx


def apr1(password: str) -> str:
    """An htpasswd hash of `password`, made by openssl in the nginx image (as the docs say)."""
    command = ["docker", "run", "--rm", "-i", "--entrypoint", "openssl", ui_image()]
    command += ["passwd", "-apr1", "-stdin"]
    return run(command, timeout=60, stdin=f"{password}\n").stdout.strip()


def write_env_file(path: Path, env: Mapping[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return path


class ComposeProject:
    """deploy/compose/compose.yaml under its own project name and env file. Its containers are
    found by compose's labels with the docker client, which starts much faster than
    docker-compose 1.29."""

    def __init__(self, name: str, env_file: Path):
        self.base = [*compose_command(), "-p", name, "-f", str(COMPOSE_FILE)]
        self.base += ["--env-file", str(env_file)]
        self.name = name

    def __call__(self, *args: str, timeout: float = 300, check: bool = True):
        return run([*self.base, *args], timeout, check)

    def containers(self, service: str | None = None) -> list[str]:
        """The running service containers (not those of `run`), like `compose ps -q`."""
        labels = [f"com.docker.compose.project={self.name}", "com.docker.compose.oneoff=False"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
        return run(["docker", "ps", "-q", *filters], timeout=60).stdout.split()

    def container(self, service: str) -> str:
        (container,) = self.containers(service)
        return container

    def exec(self, service: str, *command: str, check: bool = True):
        """`command` in the service's running container, like `compose exec -T`."""
        return run(["docker", "exec", self.container(service), *command], 120, check)

    def sql(self, statement: str) -> str:
        """One value from the warehouse, through psql inside the postgres container."""
        psql = ["psql", "-U", "bamboo", "-d", "bamboo", "-tAc", statement]
        return self.exec("postgres", *psql).stdout.strip()


@dataclass
class Stack:
    """One compose project brought up, and the UI client that reaches it through `ui`."""

    label: str
    project: ComposeProject
    ui: UiClient
    env: dict[str, str]
    timings: dict[str, float]

    def up(self) -> None:
        started = time.monotonic()
        self.project("up", "-d", timeout=300)
        wait_until(lambda: self.ui.location() is not None, 240, "the code location via `ui`")
        self.timings.setdefault(f"{self.label}: stack up", time.monotonic() - started)

    def time(self, what: str, started: float) -> None:
        self.timings[f"{self.label}: {what}"] = time.monotonic() - started


@dataclass
class StackOptions:
    """What a test module changes in its stack's env file, and the login its client uses
    when that is not BAMBOO_UI_USER/BAMBOO_UI_PASSWORD of the env (an htpasswd file)."""

    env: dict[str, str] = field(default_factory=dict)
    login: tuple[str, str] | None = None


@dataclass
class Deployment:
    """The engine, the images prepared and built once for all deployment tests, and the
    seconds each step took."""

    work: Path
    timings: dict[str, float] = field(default_factory=dict)
    tag: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def image(self) -> str:
        """Bamboo's image, as the env files name it (BAMBOO_IMAGE)."""
        return f"bamboo-test:{self.tag}"

    def base_env(self) -> dict[str, str]:
        """An env file's settings: local mode, fresh passwords, a free port on 127.0.0.1."""
        return {
            "BAMBOO_ENV": "local",
            "DAGSTER_PG_PASSWORD": f"instance-pw-{secrets.token_hex(8)}",
            "BAMBOO_WAREHOUSE_PASSWORD": f"warehouse-pw-{secrets.token_hex(8)}",
            "BAMBOO_UI_PORT": str(free_port()),
            "BAMBOO_IMAGE": self.image,
            "BAMBOO_SIMULATED_RECORDS_PER_DAY": "200",
        }

    @contextmanager
    def project(self, label: str, env: Mapping[str, str]) -> Iterator[ComposeProject]:
        """A compose project of its own (containers, network, volumes), removed afterwards."""
        env_file = write_env_file(self.work / f"{label}.env", env)
        project = ComposeProject(f"bamboo-test-{self.tag}-{label.replace('_', '-')}", env_file)
        try:
            yield project
        finally:
            log = project("logs", "--no-color", check=False, timeout=120).stdout
            (self.work / f"{label}.compose.log").write_text(log)
            project("down", "-v", "--remove-orphans", check=False, timeout=300)

    @contextmanager
    def stack(self, label: str, options: StackOptions) -> Iterator[Stack]:
        env = self.base_env() | options.env
        port = env["BAMBOO_UI_PORT"]
        tls = bool(env.get("BAMBOO_UI_TLS_CERT"))
        login = options.login
        if login is None and env.get("BAMBOO_UI_USER"):
            login = (env["BAMBOO_UI_USER"], env["BAMBOO_UI_PASSWORD"])
        ui = UiClient(
            f"{'https' if tls else 'http'}://127.0.0.1:{port}",
            auth=login,
            verify=env["BAMBOO_UI_TLS_CERT"] if tls else True,
        )
        with self.project(label, env) as project:
            stack = Stack(label, project, ui, env, self.timings)
            stack.up()
            yield stack
