"""Fixtures of the operations tests: Bamboo 0.1.0's code taken from git history, and the fake
statistics API every deployment in these tests talks to."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bamboo_assets_tests.servers import FakeStatisticsApi
from bamboo_assets_tests.support.dagster_processes import REPO
from bamboo_assets_tests.support.faults import Answers

# The release people run today, as its commit (its tag, v0.1.0, may not reach every clone).
RELEASE_0_1_0 = "95cf39ff66316c57d864d2a634feb0674805a177"
KEY = "sk-operations-5d2e"


@pytest.fixture(scope="session")
def bamboo_0_1_0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the `bamboo_assets` package of Bamboo 0.1.0, from git history: put on
    PYTHONPATH, it shadows the installed package."""
    target = tmp_path_factory.mktemp("bamboo-0.1.0")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", RELEASE_0_1_0, "bamboo_assets"],
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, (
        f"Bamboo 0.1.0 ({RELEASE_0_1_0}) is not in this clone's history: "
        f"{archive.stderr.decode()[-300:]} (fetch the full history: git fetch --unshallow)"
    )
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


@pytest.fixture
def answers() -> Answers:
    return Answers(records_per_day=60)


@pytest.fixture
def api(answers: Answers) -> Iterator[FakeStatisticsApi]:
    with FakeStatisticsApi(answers, client_key=KEY) as server:
        yield server
