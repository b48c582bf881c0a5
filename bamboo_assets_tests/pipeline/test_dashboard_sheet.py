"""The Google Sheet people read, refreshed by `dashboard_sheet` against the fake Sheets server:
date cells, one Bamboo chart beside people's own, and the cost of a refresh. Some refreshes
are runs of the asset; the repeated ones call what its step calls (the dashboard resource on
the whole metrics table, then the check), without a run around each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from bamboo_assets import checks
from bamboo_assets.warehouse import reports
from bamboo_assets.warehouse.connection import PostgresWarehouse
from bamboo_assets_tests.servers import FakeGoogleSheets
from bamboo_assets_tests.support.bamboo import Bamboo, day_metadata

BOOK = "dashboard-book"
SHEET = "Metrics"
LAST = date(2025, 6, 30)
EPOCH = date(1899, 12, 30)
DATE_FORMAT = {"type": "DATE", "pattern": "yyyy-mm-dd"}
MARKER = "bamboo.dashboard_chart"


@pytest.fixture
def sheets() -> Iterator[FakeGoogleSheets]:
    with FakeGoogleSheets(strict_grid=True) as fake:
        fake.add_spreadsheet(BOOK, ("Sheet1",))
        yield fake


@pytest.fixture
def dashboard_of(
    sheets: FakeGoogleSheets,
    database_dsn: str,
    bamboo_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Bamboo]:
    """Bamboo writing worksheet `sheet` of spreadsheet `book` on the fake Sheets server."""
    key = sheets.write_service_account_file(tmp_path / "service-account.json")

    def dashboard_of(book: str = BOOK, sheet: str = SHEET) -> Bamboo:
        return Bamboo.from_env(
            monkeypatch,
            BAMBOO_HOME=str(bamboo_home),
            BAMBOO_DB_DSN=database_dsn,
            GOOGLE_SERVICE_ACCOUNT_FILE=str(key),
            DASHBOARD_SPREADSHEET_ID=book,
            DASHBOARD_WORKSHEET_NAME=sheet,
            GOOGLE_SHEETS_API_URL=sheets.base_url,
        )

    return dashboard_of


@pytest.fixture
def bamboo(dashboard_of: Callable[..., Bamboo]) -> Bamboo:
    return dashboard_of()


def set_metrics(warehouse: PostgresWarehouse, days: int) -> list[date]:
    """`days` days of metrics ending LAST in public.daily_metrics, as daily_metrics leaves them."""
    first = LAST - timedelta(days=days - 1)
    with warehouse.connect() as conn:
        conn.execute("DELETE FROM public.daily_metrics")
        conn.execute(
            "INSERT INTO public.daily_metrics SELECT d::date, 8000 + n, 3000 + n, 400 + n %% 50, 6"
            " FROM generate_series(%s::date, %s::date, '1 day') WITH ORDINALITY g(d, n)",
            (first, LAST),
        )
    return [first + timedelta(days=n) for n in range(days)]


def refresh_in_a_run(
    bamboo: Bamboo, sheets: FakeGoogleSheets
) -> tuple[dg.ExecuteInProcessResult, int]:
    """One run of dashboard_sheet; returns it and the Sheets requests it made."""
    before = len(sheets.sheet_requests)
    result = bamboo.run(str(LAST), select=["dashboard_sheet"])
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.passed, check.metadata
    return result, len(sheets.sheet_requests) - before


def refresh(bamboo: Bamboo, sheets: FakeGoogleSheets, warehouse: PostgresWarehouse) -> int:
    """What dashboard_sheet does in a run, without the run around it: the whole metrics table
    onto the sheet, then its check on the sheet as written. Returns the Sheets requests made."""
    before = len(sheets.sheet_requests)
    with warehouse.connect() as conn:
        metrics = reports.all_metrics(conn)
    dashboard = bamboo.resource("dashboard").process_config_and_initialize()
    report = dashboard.refresh(metrics)
    check = checks.dashboard_matches(report.written, metrics, report.chart_matches)
    assert check.passed, check.metadata
    requests = len(sheets.sheet_requests) - before
    assert report.requests == requests
    return requests


def bamboo_charts(sheets: FakeGoogleSheets) -> list[dict]:
    (marker,) = [m for m in sheets.developer_metadata(BOOK, SHEET) if m["metadataKey"] == MARKER]
    charts = sheets.charts(BOOK, SHEET)
    return [chart for chart in charts if str(chart["chartId"]) == marker["metadataValue"]]


def sources(chart: dict) -> list[dict]:
    basic = chart["spec"]["basicChart"]
    ranges = [d["domain"]["sourceRange"]["sources"][0] for d in basic["domains"]]
    return ranges + [s["series"]["sourceRange"]["sources"][0] for s in basic["series"]]


def test_days_are_date_cells_formatted_yyyy_mm_dd_and_counts_are_numbers(
    bamboo: Bamboo, sheets: FakeGoogleSheets, warehouse: PostgresWarehouse
) -> None:
    days = set_metrics(warehouse, 3)
    refresh_in_a_run(bamboo, sheets)

    grid = sheets.grid(BOOK, SHEET)
    assert [row[0] for row in grid[1:]] == [(day - EPOCH).days for day in days]
    formats = sheets.number_formats(BOOK, SHEET)
    assert {row: formats.get((row, 0)) for row in (1, 2, 3)} == dict.fromkeys(
        (1, 2, 3), DATE_FORMAT
    )
    assert (0, 0) not in formats and (1, 1) not in formats  # header and counts keep theirs
    assert all(type(cell) is int for row in grid[1:] for cell in row[1:])
    assert [row[0] for row in sheets.shown_grid(BOOK, SHEET)[1:]] == [str(day) for day in days]


def test_a_refresh_costs_at_most_three_requests_with_the_check_whatever_the_history(
    dashboard_of: Callable[..., Bamboo], sheets: FakeGoogleSheets, warehouse: PostgresWarehouse
) -> None:
    for days in (1, 365):
        sheets.add_spreadsheet(f"{BOOK}-{days}", ("Sheet1",))
        bamboo = dashboard_of(f"{BOOK}-{days}")
        set_metrics(warehouse, days)
        first, created = refresh_in_a_run(bamboo, sheets)  # the worksheet is created: 3
        unchanged = refresh(bamboo, sheets, warehouse)  # nothing differs: the read alone
        with warehouse.connect() as conn:
            conn.execute("UPDATE public.daily_metrics SET new_users_per_day = 9")
        changed = refresh(bamboo, sheets, warehouse)  # every day differs: read + one write
        assert (created, unchanged, changed) == (3, 1, 2), days
        assert day_metadata(first, "dashboard_sheet")[str(LAST)]["api_requests"] == created

    # An empty worksheet that already exists: read + one write.
    assert refresh(dashboard_of(BOOK, "Sheet1"), sheets, warehouse) == 2


def test_a_persons_chart_and_notes_survive_refreshes_and_bamboo_keeps_exactly_one_chart(
    bamboo: Bamboo, sheets: FakeGoogleSheets, warehouse: PostgresWarehouse
) -> None:
    set_metrics(warehouse, 2)
    refresh(bamboo, sheets, warehouse)
    grid = sheets.grid(BOOK, SHEET)
    grid[0].append("notes")
    grid[1].append("holiday: fewer learners")
    sheets.set_grid(BOOK, SHEET, grid)
    theirs = sheets.add_chart(
        BOOK, SHEET, {"title": "my weekly view", "basicChart": {"chartType": "COLUMN"}}
    )
    their_chart = [c for c in sheets.charts(BOOK, SHEET) if c["chartId"] == theirs]

    for days in (3, 10, 40):
        set_metrics(warehouse, days)
        refresh(bamboo, sheets, warehouse)
        (ours,) = bamboo_charts(sheets)
        assert {source["endRowIndex"] for source in sources(ours)} == {days + 1}
        assert [source.get("startColumnIndex", 0) for source in sources(ours)] == [0, 1, 2, 3, 4]
        assert len(sheets.charts(BOOK, SHEET)) == 2

    assert [c for c in sheets.charts(BOOK, SHEET) if c["chartId"] == theirs] == their_chart
    shown = sheets.shown_grid(BOOK, SHEET)
    assert shown[0][5] == "notes"
    notes = {row[0]: row[5] for row in shown[1:] if len(row) > 5}
    assert notes == {str(LAST - timedelta(days=1)): "holiday: fewer learners"}

    # A person deletes Bamboo's chart: the next refresh draws it again, once, with its id.
    (ours,) = bamboo_charts(sheets)
    sheets.delete_chart(BOOK, ours["chartId"])
    refresh(bamboo, sheets, warehouse)
    refresh(bamboo, sheets, warehouse)
    assert [chart["chartId"] for chart in bamboo_charts(sheets)] == [ours["chartId"]]
    assert len(sheets.charts(BOOK, SHEET)) == 2
