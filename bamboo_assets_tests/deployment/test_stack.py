"""The compose stack as it comes with the example env file's defaults: no login, the UI on
127.0.0.1 only, through the `ui` proxy.

A day of `daily_attempts` launched through the UI's GraphQL API runs in the stack and it, with
the day's rows, survives `down` and `up`. Only `ui` is published, on 127.0.0.1. The Bamboo
services run as uid 10001 and every Dagster process gets the event settings of the image. No
password of the env file is in an image. A code location in production mode with a variable
missing stops naming it; a run whose warehouse cannot be reached fails naming the warehouse
and not the password.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from bamboo_assets_tests.deployment.docker_stack import (
    DAGSTER_SERVICES,
    Stack,
    inspect,
    run,
)
from bamboo_assets_tests.deployment.ui_client import JOB

pytestmark = pytest.mark.docker

DAY = "2025-03-01"
DAY_ROWS = "SELECT count(*) FROM public.solutions WHERE created_at::date = '2025-03-01'"
# Set in the Dockerfile, so every Dagster process of the deployment (and each run) has them.
EVENT_SETTINGS = {
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    "DAGSTER_EVENT_BATCH_SIZE": "500",
}


def test_without_a_login_the_ui_answers_on_127_0_0_1(stack: Stack) -> None:
    assert stack.ui.auth is None
    assert stack.ui.get("/server_info").status_code == 200
    page = stack.ui.get("/")
    assert page.status_code == 200
    assert "<html" in page.text.lower()


def test_a_day_runs_in_the_stack_and_survives_down_and_up(stack: Stack) -> None:
    started = time.monotonic()
    run_id = stack.ui.launch_day(DAY)
    finished = stack.ui.wait_for_run(run_id)
    stack.time("one run", started)
    assert finished["jobName"] == JOB
    assert {"key": "dagster/partition", "value": DAY} in finished["tags"]
    rows = int(stack.project.sql(DAY_ROWS))
    assert rows > 100  # of the 200 simulated records, the valid ones

    # `down` keeps named volumes: the instance database, the warehouse and BAMBOO_HOME.
    stack.project("down", timeout=300)
    assert stack.project.containers() == []
    stack.up()
    assert stack.ui.run(run_id)["status"] == "SUCCESS"
    assert int(stack.project.sql(DAY_ROWS)) == rows


def test_only_the_ui_is_published_and_only_on_127_0_0_1(stack: Stack) -> None:
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
    port = stack.env["BAMBOO_UI_PORT"]
    assert published == {"ui": {"8080/tcp": [("127.0.0.1", port)]}}


def test_the_bamboo_services_run_as_a_non_root_user(stack: Stack) -> None:
    for service in DAGSTER_SERVICES:
        uid = stack.project.exec(service, "id", "-u").stdout.strip()
        assert uid == "10001", service


def test_every_dagster_process_gets_the_event_settings(stack: Stack) -> None:
    for service in DAGSTER_SERVICES:
        container = inspect(stack.project.container(service))
        env = dict(item.split("=", 1) for item in container["Config"]["Env"])
        assert {k: env.get(k) for k in EVENT_SETTINGS} == EVENT_SETTINGS, service


def test_no_password_from_the_env_file_is_in_an_image(stack: Stack) -> None:
    passwords = [v for k, v in stack.env.items() if k.endswith("_PASSWORD")]
    containers = [inspect(c) for c in stack.project.containers()]
    images = {info["Image"] for info in containers}
    assert len(images) == 3  # the project's image, postgres and nginx
    for image in images:
        text = run(["docker", "image", "inspect", image], timeout=60).stdout
        text += run(["docker", "history", "--no-trunc", image], timeout=60).stdout
        for password in passwords:
            assert password not in text, image
    # Where they are, by design: the containers' environment (so the search above can find them).
    environment = json.dumps([info["Config"]["Env"] for info in containers])
    assert all(password in environment for password in passwords)


def test_production_mode_with_a_variable_missing_stops_the_code_location(stack: Stack) -> None:
    # Every outside system production needs except the mail (SMTP_HOST, DIGEST_SENDER,
    # DIGEST_RECIPIENTS empty in the env file); BAMBOO_DB_DSN comes from compose.
    settings = {
        "BAMBOO_ENV": "production",
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": "key",
        "GOOGLE_SERVICE_ACCOUNT_FILE": "/etc/hostname",  # any file the container can read
        "DASHBOARD_SPREADSHEET_ID": "sheet",
    }
    options = [arg for k, v in settings.items() for arg in ("-e", f"{k}={v}")]
    done = stack.project(
        "run", "--rm", "--no-deps", "-T", *options, "code-location", timeout=180, check=False
    )
    assert done.returncode != 0
    log = done.stdout + done.stderr
    error = re.search(r"SettingsError: BAMBOO_ENV is production but (.*) are not set", log)
    assert error, log[-3000:]
    assert set(error.group(1).split(", ")) == {"SMTP_HOST", "DIGEST_SENDER", "DIGEST_RECIPIENTS"}


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
    assert stack.ui.location() is not None  # the deployed code location is unaffected
