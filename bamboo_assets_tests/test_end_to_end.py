"""A 3-day backfill through Dagster against real servers: HTTP API, Sheets over gspread, SMTP.

Resources come from the environment exactly as in production (settings.build_resources), only
the addresses point at the test servers on 127.0.0.1.
"""

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bamboo_assets.settings import build_resources, load_settings
from bamboo_assets.simulator import simulated_answer
from bamboo_assets_tests.helpers import (
    materialize_days,
    notebook_metrics,
    query,
    stored_answer,
    stored_metrics,
)
from bamboo_assets_tests.servers import FakeGoogleSheets, FakeStatisticsApi, SmtpServer

SHEET = "sheet-e2e"


def simulated(params: dict[str, str]) -> bytes:
    return b"".join(simulated_answer(date.fromisoformat(params["start"][:10]), 400))


@pytest.fixture
def servers() -> Iterator[tuple[FakeStatisticsApi, FakeGoogleSheets, SmtpServer]]:
    with (
        FakeStatisticsApi(simulated, client_key="e2e-key") as api,
        FakeGoogleSheets(strict_grid=True) as sheets,
        SmtpServer(security="starttls", user="bamboo", password="smtp-pass") as smtp,
    ):
        sheets.add_spreadsheet(SHEET, ("Sheet1",))
        yield api, sheets, smtp


@pytest.fixture
def production_env(servers, database_dsn: str, tmp_path: Path, monkeypatch) -> dict[str, str]:
    api, sheets, smtp = servers
    env = {
        "BAMBOO_HOME": str(tmp_path / "home"),
        "ITRESUME_URL": api.url,
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": "e2e-key",
        "BAMBOO_DB_DSN": database_dsn,
        "GOOGLE_SERVICE_ACCOUNT_FILE": str(sheets.write_service_account_file(tmp_path / "sa.json")),
        "DASHBOARD_SPREADSHEET_ID": SHEET,
        "DASHBOARD_WORKSHEET_NAME": "Metrics",
        "GOOGLE_SHEETS_API_URL": sheets.base_url,
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "starttls",
        "SMTP_USER": "bamboo",
        "SMTP_PASSWORD": "smtp-pass",
        "SMTP_CA_FILE": str(smtp.ca_file),
        "DIGEST_SENDER": "etl@example.org",
        "DIGEST_RECIPIENTS": "lead@example.org, analyst@example.org",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_a_three_day_backfill_fills_every_system_and_a_rerun_changes_nothing(
    servers, production_env: dict[str, str], database_dsn: str
) -> None:
    api, sheets, smtp = servers
    resources = build_resources(os.environ, load_settings(os.environ))

    result = materialize_days("2025-03-01", "2025-03-03", resources)
    assert result.success

    # The API: one GET per day, with the notebook's parameters.
    windows = sorted((r["client"], r["start"], r["end"]) for r in api.requests)
    assert windows == [
        ("acme", f"2025-03-0{d} 00:00:00.000000", f"2025-03-0{d} 23:59:59.999999")
        for d in (1, 2, 3)
    ]

    # The database: every valid record loaded once; metrics equal the notebook's query.
    loads = query(
        database_dsn, "SELECT validated, rejected, inserted FROM bamboo.day_loads ORDER BY day"
    )
    assert len(loads) == 3 and all(inserted == valid for valid, _, inserted in loads)
    (total,) = query(database_dsn, "SELECT count(*) FROM public.solutions")[0]
    assert total == sum(valid for valid, _, _ in loads) > 0
    metrics = stored_metrics(database_dsn)
    assert metrics == notebook_metrics(database_dsn)
    assert [row[0] for row in metrics] == ["2025-03-01", "2025-03-02", "2025-03-03"]

    # The sheet: a new worksheet with the header and one row per day, equal to the metrics.
    grid = sheets.shown_grid(SHEET, "Metrics")
    assert grid[0] == [
        "study_date",
        "attempts_per_day_total",
        "correct_attempts_per_day",
        "unique_users_per_day",
        "new_users_per_day",
    ]
    assert [tuple(row) for row in grid[1:]] == metrics
    refresh_requests = result.asset_materializations_for_node("dashboard_sheet")[0].metadata
    assert refresh_requests["api_requests"].value <= 3

    # The digest: one message to both recipients with the notebook's counts.
    (message,) = smtp.messages
    assert message["To"] == "lead@example.org, analyst@example.org"
    assert "2025-03-01 to 2025-03-03" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert f"Rows extracted by API: {sum(v + r for v, r, _ in loads)}" in body
    assert f"New rows inserted to DB: {total}" in body
    assert "https://docs.google.com/spreadsheets/d/sheet-e2e" in body

    # Again: no new rows, no identity values burned, the sheet untouched, a second digest.
    ids_before = query(database_dsn, "SELECT count(*), max(id) FROM public.solutions")
    sheets.reset_counters()
    again = materialize_days("2025-03-01", "2025-03-03", resources)
    assert again.success
    assert query(database_dsn, "SELECT count(*), max(id) FROM public.solutions") == ids_before
    assert stored_metrics(database_dsn) == metrics
    assert sheets.shown_grid(SHEET, "Metrics") == grid
    assert not [path for method, path in sheets.sheet_requests if method == "POST"]
    assert len(smtp.messages) == 2
    assert "New rows inserted to DB: 0" in smtp.messages[1].get_body(("plain",)).get_content()


def test_the_raw_answer_is_kept_as_received(servers, production_env: dict[str, str]) -> None:
    resources = build_resources(os.environ, load_settings(os.environ))
    assert materialize_days("2025-03-02", "2025-03-02", resources).success
    stored = Path(production_env["BAMBOO_HOME"]) / "raw" / "2025-03-02.json.zst"
    kept = stored_answer(stored)
    assert kept == simulated({"start": "2025-03-02 00:00:00.000000"})
    assert len(json.loads(kept)) == 400
