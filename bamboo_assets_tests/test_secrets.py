"""Secrets never reach what Dagster records or prints, on the success path or a failure.

Each run uses distinctive secret values (API key, database password, SMTP password, the
service account's private key) against real servers, with Dagster also capturing the HTTP,
Google and database libraries' own loggers at DEBUG (as an operator chasing a problem
would configure it); then the run, its job snapshot, every event of its event log and all
captured stdout/stderr are searched for each secret.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi
from bamboo_assets.settings import build_resources, load_settings
from bamboo_assets_tests.faults import (
    Answers,
    everything_recorded,
    failure_message,
    materialized,
    role_with_password,
)
from bamboo_assets_tests.helpers import materialize_days
from bamboo_assets_tests.servers import FakeGoogleSheets, FakeStatisticsApi, Hang, SmtpServer

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
    database_dsn: str,
    postgres_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """Every system real and protected by a secret, given through the environment only."""
    dsn = role_with_password(postgres_uri, database_dsn, "bamboo_secret_owner", DB_PASSWORD)
    values = {
        "BAMBOO_HOME": str(tmp_path / "home"),
        "ITRESUME_URL": servers.api.url,
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": API_KEY,
        "BAMBOO_DB_DSN": dsn,
        "GOOGLE_SERVICE_ACCOUNT_FILE": str(
            servers.sheets.write_service_account_file(tmp_path / "service-account.json")
        ),
        "DASHBOARD_SPREADSHEET_ID": SHEET,
        "GOOGLE_SHEETS_API_URL": servers.sheets.base_url,
        "SMTP_HOST": servers.smtp.host,
        "SMTP_PORT": str(servers.smtp.port),
        "SMTP_SECURITY": "starttls",
        "SMTP_USER": "bamboo",
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "SMTP_CA_FILE": str(servers.smtp.ca_file),
        "DIGEST_SENDER": "etl@example.org",
        "DIGEST_RECIPIENTS": "lead@example.org",
    }
    for name in ("DB_DSN_bamboo", "CLIENT_KEY_Skillfactory", "GOOGLE_APP_PASS", "PGPASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def resources() -> dict:
    """As definitions.py builds them, the API with a short read timeout to exercise retries."""
    built = build_resources(os.environ, load_settings(os.environ))
    built["statistics_api"] = ItresumeStatisticsApi(
        url=os.environ["ITRESUME_URL"],
        client=os.environ["ITRESUME_CLIENT"],
        client_key=dg.EnvVar("ITRESUME_CLIENT_KEY"),
        read_timeout_seconds=0.5,
        backoff_seconds=0.01,
    )
    return built


def recorded_run(resources: dict) -> tuple[dg.ExecuteInProcessResult, str]:
    """Run every asset for DAY; the result and everything the instance recorded about it."""
    overrides = {
        "python_logs": {"managed_python_loggers": LIBRARY_LOGGERS, "python_log_level": "DEBUG"}
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        result = materialize_days(DAY, DAY, resources, instance=instance)
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.job_snapshot_id is not None
        snapshot = instance.get_job_snapshot(run.job_snapshot_id)
        recorded = everything_recorded(instance, result.run_id) + serialize_value(snapshot)
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
    env: dict[str, str], servers: Servers, capfd: pytest.CaptureFixture[str]
) -> None:
    servers.api.fail_next(Hang(5))  # a retried timeout: urllib3 logs the URL it retries

    result, recorded = recorded_run(resources())

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

    result, recorded = recorded_run(resources())

    assert not result.success
    assert "refused the client key (HTTP 401)" in failure_message(result, "raw_attempts")
    assert_nowhere([wrong_key, *all_secrets(servers)], recorded, capfd.readouterr())


def test_a_refused_smtp_login_is_named_but_the_password_never_shown(
    env: dict[str, str],
    servers: Servers,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong_password = "smtp-SECRET-wrong-3aa81f"
    monkeypatch.setenv("SMTP_PASSWORD", wrong_password)

    result, recorded = recorded_run(resources())

    assert not result.success
    assert "raw_attempts" in materialized(result) and "dashboard_sheet" in materialized(result)
    assert "refused the login for user 'bamboo'" in failure_message(result, "digest_email")
    assert_nowhere([wrong_password, *all_secrets(servers)], recorded, capfd.readouterr())
