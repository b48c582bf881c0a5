"""A 3-day backfill through Dagster against real servers: HTTP API, Sheets over gspread, SMTP.

Bamboo is configured by the environment exactly as in production; only the addresses point at
the test servers on 127.0.0.1.
"""

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bamboo_assets.core.simulator import simulated_answer
from bamboo_assets_tests.servers import FakeGoogleSheets, FakeStatisticsApi, SmtpServer
from bamboo_assets_tests.support.bamboo import (
    LINEAGE,
    Bamboo,
    day_metadata,
    notebook_metrics,
    query,
    stored_answer,
    stored_metrics,
)
from bamboo_assets_tests.support.faults import run_log
from bamboo_assets_tests.support.mail import server_env

SHEET = "sheet-e2e"
DAYS = ["2025-03-01", "2025-03-02", "2025-03-03"]


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
def bamboo(servers, database_dsn: str, tmp_path: Path, monkeypatch) -> Bamboo:
    api, sheets, smtp = servers
    return Bamboo.from_env(
        monkeypatch,
        BAMBOO_HOME=str(tmp_path / "home"),
        ITRESUME_URL=api.url,
        ITRESUME_CLIENT="acme",
        ITRESUME_CLIENT_KEY="e2e-key",
        BAMBOO_DB_DSN=database_dsn,
        GOOGLE_SERVICE_ACCOUNT_FILE=str(sheets.write_service_account_file(tmp_path / "sa.json")),
        DASHBOARD_SPREADSHEET_ID=SHEET,
        DASHBOARD_WORKSHEET_NAME="Metrics",
        GOOGLE_SHEETS_API_URL=sheets.base_url,
        **server_env(
            smtp,
            user="bamboo",
            password="smtp-pass",
            recipients="lead@example.org, analyst@example.org",
        ),
    )


def test_a_three_day_backfill_fills_every_system_and_a_rerun_changes_nothing(
    servers, bamboo: Bamboo, database_dsn: str, tmp_path: Path
) -> None:
    api, sheets, smtp = servers

    result = bamboo.run(DAYS[0], DAYS[-1])
    assert result.success
    # The run's log: one line per step for the whole range, none per day.
    log = run_log(bamboo.instance, result.run_id)
    for name in LINEAGE:
        steps = [line for line in log if line.startswith(f"{name}: ") and " days in " in line]
        assert len(steps) == 1 and re.fullmatch(rf"{name}: 3 days in \d+\.\d\ds", steps[0]), steps

    # The API: one GET per day, with the notebook's parameters.
    windows = sorted((r["client"], r["start"], r["end"]) for r in api.requests)
    assert windows == [("acme", f"{day} 00:00:00.000000", f"{day} 23:59:59.999999") for day in DAYS]
    # Its answers, kept byte for byte.
    kept = stored_answer(tmp_path / "home" / "raw" / "2025-03-02.json.zst")
    assert kept == simulated({"start": "2025-03-02 00:00:00.000000"})
    assert len(json.loads(kept)) == 400

    # The database: every valid record loaded once; metrics equal the notebook's query.
    loads = query(
        database_dsn, "SELECT validated, rejected, inserted FROM bamboo.day_loads ORDER BY day"
    )
    assert len(loads) == 3 and all(inserted == valid for valid, _, inserted in loads)
    (total,) = query(database_dsn, "SELECT count(*) FROM public.solutions")[0]
    assert total == sum(valid for valid, _, _ in loads) > 0
    metrics = stored_metrics(database_dsn)
    assert metrics == notebook_metrics(database_dsn)
    assert [row[0] for row in metrics] == DAYS

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
    refreshes = day_metadata(result, "dashboard_sheet")
    assert sorted(refreshes) == DAYS
    assert max(meta["api_requests"] for meta in refreshes.values()) <= 3

    # The digest: one message to both recipients with the notebook's counts.
    (message,) = smtp.messages
    assert message["To"] == "lead@example.org, analyst@example.org"
    assert "2025-03-01 to 2025-03-03" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert f"Rows extracted by API: {sum(v + r for v, r, _ in loads)}" in body
    assert f"New rows inserted to DB: {total}" in body
    assert "https://docs.google.com/spreadsheets/d/sheet-e2e" in body

    # Again: no new rows, no identity values burned, the sheet untouched, a second digest;
    # the answers are final, so the API is not called again.
    ids_before = query(database_dsn, "SELECT count(*), max(id) FROM public.solutions")
    sheets.reset_counters()
    again = bamboo.run(DAYS[0], DAYS[-1])
    assert again.success
    assert len(api.requests) == 3
    assert query(database_dsn, "SELECT count(*), max(id) FROM public.solutions") == ids_before
    assert stored_metrics(database_dsn) == metrics
    assert sheets.shown_grid(SHEET, "Metrics") == grid
    assert not [path for method, path in sheets.sheet_requests if method == "POST"]
    assert len(smtp.messages) == 2
    assert "New rows inserted to DB: 0" in smtp.messages[1].get_body(("plain",)).get_content()
