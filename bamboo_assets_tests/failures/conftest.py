"""Fixtures of the failure tests: the fake statistics API, the environment, the fake Sheets.

Every variable Bamboo reads starts unset (the `isolated_environment` fixture of the top
conftest.py); `env` sets what a production deployment sets, pointed at the fakes. The warehouse
is a copy of a database migrated once per session (support/databases.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bamboo_assets_tests.failures.runs import KEY, SHEET
from bamboo_assets_tests.servers import FakeGoogleSheets, FakeStatisticsApi
from bamboo_assets_tests.support.dagster_processes import DAGSTER_TUNING
from bamboo_assets_tests.support.faults import Answers


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def api(answers: Answers) -> Iterator[FakeStatisticsApi]:
    with FakeStatisticsApi(answers, client_key=KEY) as server:
        yield server


@pytest.fixture
def env(
    api: FakeStatisticsApi, database_dsn: str, bamboo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The real API (the fake, with short timeouts), the test database, and the local
    dashboard and outbox; Dagster tuned as Bamboo's deployments tune it."""
    monkeypatch.delenv("PGTZ", raising=False)  # libpq's: would change the session time zone
    values = {
        "BAMBOO_HOME": str(bamboo_home),
        "ITRESUME_URL": api.url,
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": KEY,
        "ITRESUME_CONNECT_TIMEOUT_SECONDS": "2",
        "ITRESUME_READ_TIMEOUT_SECONDS": "5",
        "BAMBOO_DB_DSN": database_dsn,
    }
    for name, value in (values | DAGSTER_TUNING).items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def sheets() -> Iterator[FakeGoogleSheets]:
    with FakeGoogleSheets(strict_grid=True) as server:
        server.add_spreadsheet(SHEET, ("Sheet1",))
        yield server
