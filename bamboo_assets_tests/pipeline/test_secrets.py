"""Secrets never reach what Dagster records or prints, on the success path or a failure.

Each run uses distinctive secret values (API key, database password, SMTP password, the
service account's private key) against real servers, with Dagster also capturing the HTTP,
Google and database libraries' own loggers at DEBUG (as an operator chasing a problem
would configure it); then the run, its job snapshot, every event of its event log and all
captured stdout/stderr are searched for each secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from bamboo_assets_tests.servers import FakeGoogleSheets, FakeStatisticsApi, Hang, SmtpServer
from bamboo_assets_tests.support.bamboo import Bamboo, resource_with
from bamboo_assets_tests.support.faults import (
    Answers,
    everything_recorded,
    failure_message,
    materialized,
    role_with_password,
)
from bamboo_assets_tests.support.mail import server_env

API_KEY = "sk-SECRET-api-4b1f9e27d3"
DB_PASSWORD = "pg-SECRET-7c3e91aa05"
SMTP_PASSWORD = "smtp-SECRET-0d5a63e8f1"
DAY = "2025-03-05"
SHEET = "sheet-secrets"
LIBRARY_LOGGERS = ["urllib3", "requests", "google", "gspread", "psycopg", "smtplib"]


@dataclass
class Servers:
    api: FakeStatisticsApi
    sheets: FakeGoogleSheets
    smtp: SmtpServer
    private_key_lines: list[str]


@pytest.fixture
def servers() -> Iterator[Servers]:
    with (
        FakeStatisticsApi(Answers(), client_key=API_KEY) as api,
        FakeGoogleSheets(strict_grid=True) as sheets,
        SmtpServer(security="starttls", user="bamboo", password=SMTP_PASSWORD) as smtp,
    ):
        sheets.add_spreadsheet(SHEET, ("Sheet1",))
        pem = sheets.service_account_info()["private_key"]
        body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
        yield Servers(api, sheets, smtp, body)


@pytest.fixture
def env(
    servers: Servers,
    empty_dsn: str,
    postgres_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """Every system real and protected by a secret, given through the environment only; the
    API with a short read timeout, to exercise its retries. The warehouse is a database the
    role owns, where Bamboo makes its tables on the first run."""
    dsn = role_with_password(postgres_uri, empty_dsn, "bamboo_secret_owner", DB_PASSWORD)
    values = {
        "BAMBOO_HOME": str(tmp_path / "home"),
        "ITRESUME_URL": servers.api.url,
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": API_KEY,
        "ITRESUME_READ_TIMEOUT_SECONDS": "0.5",
        "BAMBOO_DB_DSN": dsn,
        "GOOGLE_SERVICE_ACCOUNT_FILE": str(
            servers.sheets.write_service_account_file(tmp_path / "service-account.json")
        ),
        "DASHBOARD_SPREADSHEET_ID": SHEET,
        "GOOGLE_SHEETS_API_URL": servers.sheets.base_url,
        **server_env(servers.smtp, user="bamboo", password=SMTP_PASSWORD),
    }
    monkeypatch.delenv("PGPASSWORD", raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def bamboo(monkeypatch: pytest.MonkeyPatch) -> Bamboo:
    """Bamboo as the environment configures it, the API waiting 10 ms between tries."""
    built = Bamboo.from_env(monkeypatch)
    api = resource_with(built.resource("statistics_api"), backoff_seconds=0.01)
    return built.with_resources(statistics_api=api)


def recorded_run(bamboo: Bamboo) -> tuple[dg.ExecuteInProcessResult, str]:
    """Run every asset for DAY; the result and everything the instance recorded about it."""
    overrides = {
        "python_logs": {"managed_python_loggers": LIBRARY_LOGGERS, "python_log_level": "DEBUG"}
    }
    instance = dg.DagsterInstance.ephemeral(settings=overrides)
    result = replace(bamboo, instance=instance).run(DAY)
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.job_snapshot_id is not None
    snapshot = instance.get_job_snapshot(run.job_snapshot_id)
    recorded = everything_recorded(instance, result.run_id) + serialize_value(snapshot)
    assert "connection succeeded: host: " in recorded  # psycopg's own DEBUG lines: captured
    return result, recorded


def assert_nowhere(secrets: list[str], recorded: str, captured: pytest.CaptureResult) -> None:
    """No secret in the records, on stdout or on stderr; a failure shows what preceded it."""
    places = {"the run's records": recorded, "stdout": captured.out, "stderr": captured.err}
    for secret in secrets:
        for where, text in places.items():
            if secret in text:
                at = text.index(secret)
                before = text[max(0, at - 300) : at].replace(secret, "<SECRET>")
                raise AssertionError(f"a secret is in {where}: ...{before}<SECRET>")


def all_secrets(servers: Servers) -> list[str]:
    return [API_KEY, DB_PASSWORD, SMTP_PASSWORD, *servers.private_key_lines]


def test_a_successful_run_records_no_secret(
    env: dict[str, str],
    servers: Servers,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    servers.api.fail_next(Hang(5))  # a retried timeout: urllib3 logs the URL it retries

    result, recorded = recorded_run(bamboo(monkeypatch))

    assert result.success
    assert len(servers.api.requests) == 2
    assert servers.api.requests[-1]["client_key"] == API_KEY  # the key was really used
    assert servers.smtp.authenticated_users == ["bamboo"]  # so was the SMTP password
    assert servers.sheets.token_requests >= 1  # and the private key
    assert "client_key=<redacted>" in recorded  # urllib3's retry line, captured and redacted
    assert_nowhere(all_secrets(servers), recorded, capfd.readouterr())


def test_a_refused_api_key_is_named_but_never_shown(
    env: dict[str, str],
    servers: Servers,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong_key = "sk-SECRET-wrong-91e0c4b7"
    monkeypatch.setenv("ITRESUME_CLIENT_KEY", wrong_key)
    servers.api.fail_next(Hang(5))

    result, recorded = recorded_run(bamboo(monkeypatch))

    assert not result.success
    assert "refused the client key (HTTP 401)" in failure_message(result, "bamboo_pipeline")
    assert_nowhere([wrong_key, *all_secrets(servers)], recorded, capfd.readouterr())


def test_a_refused_smtp_login_is_named_but_the_password_never_shown(
    env: dict[str, str],
    servers: Servers,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong_password = "smtp-SECRET-wrong-3aa81f"
    monkeypatch.setenv("SMTP_PASSWORD", wrong_password)

    result, recorded = recorded_run(bamboo(monkeypatch))

    assert not result.success
    assert "refused the login for user 'bamboo'" in failure_message(result, "bamboo_pipeline")
    assert_nowhere([wrong_password, *all_secrets(servers)], recorded, capfd.readouterr())
    # Only the mail failed: the data is loaded and shown.
    assert "raw_attempts" in materialized(result) and "dashboard_sheet" in materialized(result)
