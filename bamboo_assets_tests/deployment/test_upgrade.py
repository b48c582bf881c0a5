"""Upgrading a compose deployment as docs/deployment.md ("Upgrading a compose deployment")
says: with a day run, a backup with `bamboo backup` in the code-location container, the image
rebuilt (a new image id), the Dagster services stopped, `dagster instance migrate` run once
with the new image through `docker compose run --rm code-location`, the stack up again. The
earlier run is still in the run history, the day's rows are still in the warehouse, and a run
for another day succeeds on the new image.

The stack uses its own tag of the image, so the rebuild changes nothing for the other modules,
and the login of an htpasswd file (BAMBOO_UI_HTPASSWD_FILE) over plain HTTP.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest

from bamboo_assets_tests.deployment.docker_stack import (
    DAGSTER_SERVICES,
    Deployment,
    Stack,
    StackOptions,
    apr1,
    image_id,
    inspect,
    run,
)

pytestmark = pytest.mark.docker

DAY, NEXT_DAY = "2025-03-05", "2025-03-06"
ROWS = "SELECT count(*) FROM public.solutions WHERE created_at::date = '{day}'"
REVISION_LABEL = "org.opencontainers.image.revision"


@pytest.fixture(scope="module")
def upgrade_image(deployment: Deployment) -> Iterator[str]:
    """The deployment's image under a tag of this module's own, removed afterwards."""
    image = f"{deployment.image}-upgrade"
    run(["docker", "tag", deployment.image, image], timeout=60)
    try:
        yield image
    finally:
        run(["docker", "rmi", "-f", image], check=False, timeout=120)


@pytest.fixture(scope="module")
def stack_options(upgrade_image: str, tmp_path_factory: pytest.TempPathFactory) -> StackOptions:
    password = f"ui-pw-{secrets.token_hex(8)}"
    htpasswd = tmp_path_factory.mktemp("ui-login") / "htpasswd"
    htpasswd.write_text(f"operator:{apr1(password)}\n")
    htpasswd.chmod(0o600)
    return StackOptions(
        env={"BAMBOO_IMAGE": upgrade_image, "BAMBOO_UI_HTPASSWD_FILE": str(htpasswd)},
        login=("operator", password),
    )


def rows(stack: Stack, day: str) -> int:
    return int(stack.project.sql(ROWS.format(day=day)))


def test_an_upgrade_keeps_the_run_history_and_the_warehouse(stack: Stack) -> None:
    assert stack.ui.get("/server_info").status_code == 401  # the htpasswd file's login holds
    first = stack.ui.launch_day(DAY)
    stack.ui.wait_for_run(first)
    day_rows = rows(stack, DAY)
    assert day_rows > 100

    # 1. The backup, as docs/deployment.md writes it, into the bamboo-home volume.
    started = time.monotonic()
    backup = "/var/lib/bamboo/backups/before-upgrade.tar"
    stack.project("exec", "-T", "code-location", "bamboo", "backup", backup, timeout=300)
    stack.project.exec("code-location", "test", "-s", backup)
    stack.time("backup", started)

    # 2. The new version's image: here the same code with a new revision label, a new image id.
    image = stack.env["BAMBOO_IMAGE"]
    before = image_id(image)
    revision = f"upgrade-test-{secrets.token_hex(4)}"
    started = time.monotonic()
    stack.project("build", "--build-arg", f"BAMBOO_REVISION={revision}", timeout=900)
    stack.time("image rebuild", started)
    after = image_id(image)
    assert after != before
    assert inspect(after)["Config"]["Labels"][REVISION_LABEL] == revision

    # 3. The Dagster services stopped; 4. the instance storage migrated with the new image.
    started = time.monotonic()
    stack.project("stop", *DAGSTER_SERVICES, timeout=300)
    migrate = ["run", "--rm", "-T", "code-location", "dagster", "instance", "migrate"]
    migrated = stack.project(*migrate, timeout=300)
    assert "Storage schema state after migration" in migrated.stdout, migrated.stdout
    stack.time("instance migrate", started)

    # 5. Up again, every Dagster service on the new image.
    started = time.monotonic()
    stack.up()
    stack.time("up after the upgrade", started)
    for service in DAGSTER_SERVICES:
        assert inspect(stack.project.container(service))["Image"] == after, service

    history = {run["runId"]: run for run in stack.ui.runs()}
    assert history[first]["status"] == "SUCCESS"
    assert {"key": "dagster/partition", "value": DAY} in history[first]["tags"]
    assert rows(stack, DAY) == day_rows

    started = time.monotonic()
    stack.ui.wait_for_run(stack.ui.launch_day(NEXT_DAY))
    stack.time("a run after the upgrade", started)
    assert rows(stack, NEXT_DAY) > 100
