"""Fixtures of the failure tests: the fake statistics API, the environment, the fake Sheets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bamboo_assets_tests.failures.runs import KEY, SHEET
from bamboo_assets_tests.faults import Answers
from bamboo_assets_tests.servers import FakeGoogleSheets, FakeStatisticsApi

# Variables that would switch a resource to a real system if the shell running the tests
# happened to set them.
OUTSIDE = (
    "ITRESUME_URL",
    "ITRESUME_CLIENT",
    "ITRESUME_CLIENT_KEY",
    "CLIENT_KEY_Skillfactory",
    "ITRESUME_RETRIES",
    "ITRESUME_CONNECT_TIMEOUT_SECONDS",
    "ITRESUME_READ_TIMEOUT_SECONDS",
    "ITRESUME_PARALLEL_REQUESTS",
    "BAMBOO_DB_DSN",
    "DB_DSN_bamboo",
    "GOOGLE_SERVICE_ACCOUNT_FILE",
    "DASHBOARD_SPREADSHEET_ID",
    "DASHBOARD_WORKSHEET_NAME",
    "GOOGLE_SHEETS_API_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_SECURITY",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "GOOGLE_APP_PASS",
    "SMTP_CA_FILE",
    "DIGEST_SENDER",
    "DIGEST_RECIPIENTS",
    "BAMBOO_SIMULATED_RECORDS_PER_DAY",
    "PGTZ",
    "BAMBOO_TIMEZONE",
    "BAMBOO_MAX_REJECTED_SHARE",
    "DAGSTER_WEBSERVER_URL",
)


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
    """The real API (the fake), the test database, and the local dashboard and outbox."""
    for name in OUTSIDE:
        monkeypatch.delenv(name, raising=False)
    values = {
        "BAMBOO_HOME": str(bamboo_home),
        "ITRESUME_URL": api.url,
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": KEY,
        "BAMBOO_DB_DSN": database_dsn,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def sheets() -> Iterator[FakeGoogleSheets]:
    with FakeGoogleSheets(strict_grid=True) as server:
        server.add_spreadsheet(SHEET, ("Sheet1",))
        yield server
