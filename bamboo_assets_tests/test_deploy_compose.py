"""The compose deployment, for real (issue 9): deploy/compose/compose.yaml built and brought up
on a Docker engine, a day of `daily_attempts` launched through the webserver's GraphQL API,
the stack restarted, and its bad inputs.

Images the engine cannot pull (no registry here) are replaced by stand-ins from
deploy/compose/standin-images.sh. The env file is the test's: BAMBOO_ENV=local with the
outside systems empty, its own passwords and a free port. Skipped without Docker unless
BAMBOO_REQUIRE_DOCKER=1 (CI), where that is a failure.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from bamboo_assets_tests.dagster_processes import free_port, wait_until
from bamboo_assets_tests.docker_stack import (
    COMPOSE_FILE,
    STANDIN_SCRIPT,
    ComposeProject,
    docker_engine,
    run,
    unavailable,
)
from bamboo_assets_tests.helpers import LINEAGE
from bamboo_assets_tests.test_webserver import (
    FINISHED,
    LAUNCH,
    LOCATION,
    PARTITION_TAGS_AND_CONFIG,
    RUN,
    Webserver,
)

DAY = "2025-03-01"
DAY_ROWS = "SELECT count(*) FROM public.solutions WHERE created_at::date = '2025-03-01'"
JOB = "daily_attempts"
DOCKERFILE = COMPOSE_FILE.parents[2] / "Dockerfile"


@dataclass
class Stack:
    project: ComposeProject
    webserver: Webserver
    env: dict[str, str]
    image: str
    timings: dict[str, float] = field(default_factory=dict)

    def up(self) -> None:
        started = time.monotonic()
        self.project("up", "-d", timeout=300)
        wait_until(lambda: self.webserver.location() is not None, 240, "the code location")
        self.timings.setdefault("stack up", time.monotonic() - started)


def base_images() -> list[str]:
    """The public images the stack starts from: the Dockerfile's FROM and compose's postgres."""
    (python,) = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), flags=re.M)
    (postgres,) = re.findall(r"^\s+image:\s+(postgres:\S+)", COMPOSE_FILE.read_text(), flags=re.M)
    return [python, postgres]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("compose")
    with docker_engine(work / "dockerd.log"):
        timings: dict[str, float] = {}
        started = time.monotonic()
        run([str(STANDIN_SCRIPT), *base_images()], timeout=900)
        timings["image prep"] = time.monotonic() - started

        tag = secrets.token_hex(4)
        port = free_port()
        env = {
            "BAMBOO_ENV": "local",
            "DAGSTER_PG_PASSWORD": f"instance-pw-{secrets.token_hex(8)}",
            "BAMBOO_WAREHOUSE_PASSWORD": f"warehouse-pw-{secrets.token_hex(8)}",
            "BAMBOO_WEBSERVER_PORT": str(port),
            "BAMBOO_IMAGE": f"bamboo-test:{tag}",
            "BAMBOO_SIMULATED_RECORDS_PER_DAY": "200",
        }
        env_file = work / "test.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        project = ComposeProject(f"bamboo-test-{tag}", env_file)
        stack = Stack(project, Webserver(f"http://127.0.0.1:{port}", []), env, env["BAMBOO_IMAGE"])
        try:
            started = time.monotonic()
            project("build", timeout=900)
            timings["project image build"] = time.monotonic() - started
            stack.timings = timings
            stack.up()
            yield stack
        finally:
            (work / "compose.log").write_text(project("logs", check=False, timeout=120).stdout)
            project("down", "-v", "--remove-orphans", check=False, timeout=300)
            run(["docker", "rmi", "-f", stack.image], check=False, timeout=120)
            # On the terminal even when output is captured: what CI's time budget is made of.
            seconds = {name: round(value, 1) for name, value in timings.items()}
            plugins = pytestconfig.pluginmanager
            with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
                plugins.get_plugin("terminalreporter").write_line(
                    f"\ncompose deployment, seconds: {json.dumps(seconds)}"
                )


def test_without_docker_make_test_skips_and_ci_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAMBOO_REQUIRE_DOCKER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="deployment test needs Docker: no engine"):
        unavailable("no engine")
    monkeypatch.setenv("BAMBOO_REQUIRE_DOCKER", "1")
    with pytest.raises(pytest.fail.Exception, match="BAMBOO_REQUIRE_DOCKER=1 but no engine"):
        unavailable("no engine")


def launch_day(webserver: Webserver, day: str) -> str:
    """Launch `daily_attempts` for one day as the UI's launchpad does; the run id."""
    location = webserver.location()
    assert location is not None
    (repository_name,) = [r["name"] for r in location["repositories"]]
    repository = {"repositoryName": repository_name, "repositoryLocationName": LOCATION}
    partition = webserver.graphql(
        PARTITION_TAGS_AND_CONFIG,
        jobName=JOB,
        partitionName=day,
        assetKeys=[{"path": [name]} for name in LINEAGE],
        **repository,
    )["pipelineOrError"]["partition"]
    params = {
        "mode": "default",
        "executionMetadata": {"tags": partition["tagsOrError"]["results"]},
        "runConfigData": partition["runConfigOrError"]["yaml"],
        "selector": {**repository, "pipelineName": JOB},
    }
    launched = webserver.graphql(LAUNCH, executionParams=params)["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def run_status(webserver: Webserver, run_id: str) -> dict:
    found = webserver.graphql(RUN, runId=run_id)["runOrError"]
    assert found["__typename"] == "Run", f"run {run_id} is not in the instance: {found}"
    return found


def test_a_day_runs_in_the_stack_and_survives_down_and_up(stack: Stack) -> None:
    started = time.monotonic()
    run_id = launch_day(stack.webserver, DAY)
    wait_until(
        lambda: run_status(stack.webserver, run_id)["status"] in FINISHED, 300, f"run {run_id}"
    )
    stack.timings["one run"] = time.monotonic() - started
    finished = run_status(stack.webserver, run_id)
    messages = [e.get("message") for e in finished["eventConnection"]["events"]]
    assert finished["status"] == "SUCCESS", "\n".join(filter(None, messages[-15:]))
    assert finished["jobName"] == JOB
    assert {"key": "dagster/partition", "value": DAY} in finished["tags"]
    rows = int(stack.project.sql(DAY_ROWS))
    assert rows > 100  # of the 200 simulated records, the valid ones

    # `down` keeps named volumes: the instance database, the warehouse and BAMBOO_HOME.
    stack.project("down", timeout=300)
    assert stack.project.containers() == []
    stack.up()
    assert run_status(stack.webserver, run_id)["status"] == "SUCCESS"
    assert int(stack.project.sql(DAY_ROWS)) == rows


def inspect(container: str) -> dict:
    return json.loads(run(["docker", "inspect", container], timeout=60).stdout)[0]


def test_only_the_webserver_is_published_and_only_on_127_0_0_1(stack: Stack) -> None:
    published = {}
    for container in stack.project.containers():
        info = inspect(container)
        service = info["Config"]["Labels"]["com.docker.compose.service"]
        ports = info["NetworkSettings"]["Ports"] or {}
        bound = {
            port: [(b["HostIp"], b["HostPort"]) for b in binds]
            for port, binds in ports.items()
            if binds
        }
        if bound:
            published[service] = bound
    port = stack.env["BAMBOO_WEBSERVER_PORT"]
    assert published == {"webserver": {"3000/tcp": [("127.0.0.1", port)]}}


def test_the_bamboo_services_run_as_a_non_root_user(stack: Stack) -> None:
    for service in ("code-location", "webserver", "daemon"):
        uid = stack.project("exec", "-T", service, "id", "-u", timeout=60).stdout.strip()
        assert uid == "10001", service


def test_no_password_from_the_env_file_is_in_an_image(stack: Stack) -> None:
    passwords = [v for k, v in stack.env.items() if k.endswith("_PASSWORD")]
    containers = [inspect(c) for c in stack.project.containers()]
    images = {info["Image"] for info in containers}
    assert len(images) == 2  # the project's image and postgres
    for image in images:
        text = run(["docker", "image", "inspect", image], timeout=60).stdout
        text += run(["docker", "history", "--no-trunc", image], timeout=60).stdout
        for password in passwords:
            assert password not in text, image
    # Where they are, by design: the containers' environment (so the search above can find them).
    environment = json.dumps([info["Config"]["Env"] for info in containers])
    assert all(password in environment for password in passwords)


def test_production_mode_with_a_variable_missing_stops_the_code_location(stack: Stack) -> None:
    # Everything production needs except DIGEST_RECIPIENTS (BAMBOO_DB_DSN comes from compose).
    settings = {
        "BAMBOO_ENV": "production",
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": "key",
        "GOOGLE_SERVICE_ACCOUNT_FILE": "/etc/hostname",  # any file the container can read
        "DASHBOARD_SPREADSHEET_ID": "sheet",
        "SMTP_HOST": "smtp.invalid",
        "DIGEST_SENDER": "bamboo@example.org",
    }
    options = [arg for k, v in settings.items() for arg in ("-e", f"{k}={v}")]
    done = stack.project(
        "run", "--rm", "--no-deps", "-T", *options, "code-location", timeout=180, check=False
    )
    assert done.returncode != 0
    log = done.stdout + done.stderr
    assert "SettingsError: BAMBOO_ENV is production but DIGEST_RECIPIENTS is not set" in log


def test_a_run_with_the_warehouse_unreachable_fails_naming_it(stack: Stack) -> None:
    """The code location loads without the warehouse; a run's first warehouse step fails."""
    password = stack.env["BAMBOO_WAREHOUSE_PASSWORD"]
    nowhere = f"BAMBOO_DB_DSN=host=postgres port=5999 dbname=bamboo user=bamboo password={password}"
    done = stack.project(
        "run", "--rm", "--no-deps", "-T", "-e", nowhere, "code-location",
        "dagster", "asset", "materialize", "-m", "bamboo_assets.definitions",
        "--select", "*", "--partition", "2025-03-02",
        timeout=300, check=False,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode != 0
    expected = "WarehouseUnavailable: cannot connect to the warehouse (database bamboo on postgres)"
    assert expected in log
    assert password not in log
    assert stack.webserver.location() is not None  # the deployed code location is unaffected
