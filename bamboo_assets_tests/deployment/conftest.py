"""Fixtures of the deployment tests.

`deployment` (once for the package): a Docker engine, the public images prepared (pulled, or
stand-ins built by deploy/compose/standin-images.sh), and Bamboo's image built from the
Dockerfile through compose. Its teardown removes the image and prints the seconds each step
took. `stack` (once per module): a compose project of its own brought up from that image,
with the module's `stack_options` (a login, TLS), torn down with its volumes afterwards.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from bamboo_assets_tests.deployment.docker_stack import (
    STANDIN_SCRIPT,
    ComposeProject,
    Deployment,
    Stack,
    StackOptions,
    base_images,
    docker_engine,
    run,
    write_env_file,
)


@pytest.fixture(scope="package")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("deployment")
    timings: dict[str, float] = {}
    with docker_engine(work / "dockerd.log"):
        started = time.monotonic()
        run([str(STANDIN_SCRIPT), *base_images()], timeout=900)
        timings["image prep"] = time.monotonic() - started

        deployment = Deployment(work, timings)
        try:
            started = time.monotonic()
            env_file = write_env_file(work / "build.env", deployment.base_env())
            ComposeProject(f"bamboo-test-{deployment.tag}", env_file)("build", timeout=900)
            timings["project image build"] = time.monotonic() - started
            yield deployment
        finally:
            run(["docker", "rmi", "-f", deployment.image], check=False, timeout=120)
            # On the terminal even when output is captured: what CI's time budget is made of.
            seconds = {name: round(value, 1) for name, value in timings.items()}
            plugins = pytestconfig.pluginmanager
            with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
                plugins.get_plugin("terminalreporter").write_line(
                    f"\ncompose deployment, seconds: {json.dumps(seconds)}"
                )


@pytest.fixture(scope="module")
def stack_options() -> StackOptions:
    """The module's changes to its stack's env file (a module overrides this fixture)."""
    return StackOptions()


@pytest.fixture(scope="module")
def stack(
    deployment: Deployment, stack_options: StackOptions, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    label = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    with deployment.stack(label, stack_options) as stack:
        yield stack
