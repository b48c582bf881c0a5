"""Fixtures of the pipeline tests: the fake statistics API, and Bamboo configured through the
environment against it (or the simulated API) and the test database, with the local dashboard
and outbox."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bamboo_assets_tests.servers import FakeStatisticsApi
from bamboo_assets_tests.support.bamboo import Bamboo
from bamboo_assets_tests.support.dagster_processes import DAGSTER_TUNING
from bamboo_assets_tests.support.faults import Answers

KEY = "sk-pipeline-7c1e"


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def api(answers: Answers) -> Iterator[FakeStatisticsApi]:
    with FakeStatisticsApi(answers, client_key=KEY) as server:
        yield server


@pytest.fixture
def configure(
    api: FakeStatisticsApi, database_dsn: str, bamboo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Bamboo]:
    """Bamboo against the fake API (one retry, no waiting) and the test database, with Dagster
    tuned as Bamboo's deployments tune it; `env` adds or overrides settings."""

    def configure(**env: str) -> Bamboo:
        base = DAGSTER_TUNING | {
            "BAMBOO_HOME": str(bamboo_home),
            "BAMBOO_DB_DSN": database_dsn,
            "ITRESUME_URL": api.url,
            "ITRESUME_CLIENT": "acme",
            "ITRESUME_CLIENT_KEY": KEY,
            "ITRESUME_RETRIES": "1",
        }
        return Bamboo.from_env(monkeypatch, **(base | env))

    return configure


@pytest.fixture
def bamboo(configure: Callable[..., Bamboo]) -> Bamboo:
    return configure()


@pytest.fixture
def local(
    database_dsn: str, bamboo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Bamboo]:
    """Bamboo on local defaults (the simulated API, the CSV dashboard, the outbox) with its
    warehouse in the test database; `env` adds or overrides settings."""

    def local(**env: str) -> Bamboo:
        base = DAGSTER_TUNING | {
            "BAMBOO_HOME": str(bamboo_home),
            "BAMBOO_DB_DSN": database_dsn,
            "BAMBOO_SIMULATED_RECORDS_PER_DAY": "300",
        }
        return Bamboo.from_env(monkeypatch, **(base | env))

    return local
