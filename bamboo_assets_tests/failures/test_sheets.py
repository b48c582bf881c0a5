"""The Google Sheet: rate limits, sheets people rearranged, formula-looking text."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bamboo_assets.dashboard.sheets import GoogleSheetsDashboard
from bamboo_assets_tests.failures.runs import (
    DAY,
    FORMULA,
    SHEET,
    D,
    production,
    run,
    use_sheets,
)
from bamboo_assets_tests.servers import FakeGoogleSheets
from bamboo_assets_tests.support.bamboo import (
    HEADER,
    LINEAGE,
    Bamboo,
    resource_with,
    stored_metrics,
)

DAYS = (str(DAY - timedelta(days=2)), str(DAY - timedelta(days=1)), D)
SERIAL_EPOCH = date(1899, 12, 30)


def with_fast_sheets(bamboo: Bamboo) -> Bamboo:
    """The dashboard the environment configures, with a small backoff."""
    dashboard = bamboo.resource("dashboard")
    assert isinstance(dashboard, GoogleSheetsDashboard)
    return bamboo.with_resources(dashboard=resource_with(dashboard, backoff_seconds=0.01))


def test_sheets_rate_limits_and_outages_are_retried_with_backoff_and_the_run_succeeds(
    env: dict[str, str],
    database_dsn: str,
    sheets: FakeGoogleSheets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_sheets(sheets, tmp_path, monkeypatch, "Metrics")
    sheets.fail_next(429, times=1, retry_after="1")
    sheets.fail_next(503, times=2)

    outcome = run(with_fast_sheets(production()), select=LINEAGE[:5])

    assert outcome.success, outcome.errors()
    assert [tuple(row) for row in sheets.shown_grid(SHEET, "Metrics")[1:]] == stored_metrics(
        database_dsn
    )
    retries = [line for line in outcome.log if line.startswith("Google Sheets")]
    assert retries == [
        f"Google Sheets (spreadsheet {SHEET}): HTTP 429; retrying (attempt 2 of 6, waiting 1.0s)",
        f"Google Sheets (spreadsheet {SHEET}): HTTP 503; retrying (attempt 3 of 6, waiting 0.0s)",
        f"Google Sheets (spreadsheet {SHEET}): HTTP 503; retrying (attempt 4 of 6, waiting 0.0s)",
    ]
    assert outcome.seconds < 15  # Retry-After and a 10 ms backoff: no fixed sleeps


def sheet_rows_by_day(grid: list[list[object]]) -> dict[str, list[object]]:
    """Day → its row, reading the date column by header name, whatever format it has."""
    column = grid[0].index("study_date")
    rows: dict[str, list[object]] = {}
    for row in grid[1:]:
        cell = row[column] if len(row) > column else ""
        if isinstance(cell, int):
            day = str(SERIAL_EPOCH + timedelta(days=cell))
        elif isinstance(cell, str) and cell[2:3] == ".":
            day = datetime.strptime(cell, "%d.%m.%Y").date().isoformat()
        else:
            day = str(cell)
        assert day not in rows, f"{day} appears twice"
        rows[day] = row
    return rows


def values_by_header(grid: list[list[object]], row: list[object]) -> dict[str, object]:
    return {name: row[grid[0].index(name)] for name in HEADER[1:]}


@pytest.fixture
def dashboard_of_three_days(
    env: dict[str, str],
    database_dsn: str,
    sheets: FakeGoogleSheets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, dict[str, object]]:
    """Three days loaded and on the sheet; returns each day's metrics by column name."""
    use_sheets(sheets, tmp_path, monkeypatch, "Metrics")
    assert run(production(), DAYS[0], DAYS[-1], select=LINEAGE[:5]).success
    metrics = {
        row[0]: dict(zip(HEADER[1:], row[1:], strict=True)) for row in stored_metrics(database_dsn)
    }
    assert list(metrics) == list(DAYS)
    return metrics


def test_a_sheet_people_rearranged_keeps_their_data_and_gets_deleted_days_back(
    dashboard_of_three_days: dict[str, dict[str, object]], sheets: FakeGoogleSheets
) -> None:
    metrics = dashboard_of_three_days
    header = [
        "new_users_per_day",
        "comment",
        "study_date",
        "attempts_per_day_total",
        "unique_users_per_day",
        "correct_attempts_per_day",
        "owner",
    ]

    def person_row(day: str, comment: str) -> list[object]:
        values = {**metrics[day], "study_date": day, "comment": comment, "owner": "ann"}
        return [values[name] for name in header]

    edited = person_row(DAYS[2], "holiday?")
    edited[header.index("attempts_per_day_total")] = 999_999  # a person overwrote a count
    people = [
        header,
        person_row(DAYS[0], "checked"),
        edited,  # the row of DAYS[1] was deleted
        ["", "sum of the above", "Total", "=SUM(D2:D3)", "", "", "ann"],
    ]
    sheets.set_grid(SHEET, "Metrics", people)

    outcome = run(production(), select=["dashboard_sheet"])

    assert outcome.success, outcome.errors()
    grid = sheets.shown_grid(SHEET, "Metrics")
    assert grid[0] == header
    assert grid[1] == people[1]
    assert grid[2] == person_row(DAYS[2], "holiday?")
    assert grid[3] == people[3]
    assert len(grid) == 5
    assert values_by_header(grid, grid[4]) == metrics[DAYS[1]]
    assert grid[4][header.index("study_date")] == DAYS[1]
    assert sheets.formulas_evaluated == 0


def test_dates_people_retyped_in_another_format_still_match_their_day(
    dashboard_of_three_days: dict[str, dict[str, object]], sheets: FakeGoogleSheets
) -> None:
    metrics = dashboard_of_three_days
    grid = sheets.grid(SHEET, "Metrics")
    first, second = date.fromisoformat(DAYS[0]), date.fromisoformat(DAYS[1])
    grid[1][0] = first.strftime("%d.%m.%Y")
    grid[2][0] = (second - SERIAL_EPOCH).days  # a date serial number, as Sheets stores dates
    grid[1][1] = grid[2][1] = 0  # and counts someone zeroed
    sheets.set_grid(SHEET, "Metrics", grid)

    outcome = run(production(), select=["dashboard_sheet"])

    assert outcome.success, outcome.errors()
    after = sheets.grid(SHEET, "Metrics")
    assert len(after) == 4
    rows = sheet_rows_by_day(after)
    assert list(rows) == list(DAYS)
    assert {day: values_by_header(after, row) for day, row in rows.items()} == metrics
    assert after[1][0] == first.strftime("%d.%m.%Y")  # the person's format is left alone
    assert after[2][0] == (second - SERIAL_EPOCH).days


def test_formula_looking_text_is_written_as_text_and_never_evaluated(
    env: dict[str, str],
    database_dsn: str,
    sheets: FakeGoogleSheets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_sheets(sheets, tmp_path, monkeypatch, FORMULA)

    first = run(production(), DAYS[0], DAYS[-1], select=LINEAGE[:5])
    assert first.success, first.errors()
    grid = sheets.grid(SHEET, FORMULA)
    grid[0].append("link")
    grid[1].append('=HYPERLINK("http://x","click")')
    sheets.set_grid(SHEET, FORMULA, grid)
    second = run(production(), select=["dashboard_sheet"])

    assert second.success, second.errors()
    assert FORMULA in sheets.sheet_titles(SHEET)
    after = sheets.grid(SHEET, FORMULA)
    assert after == grid
    assert after[0][: len(HEADER)] == HEADER
    assert [row[0] for row in sheets.shown_grid(SHEET, FORMULA)[1:]] == list(DAYS)
    assert all(type(cell) is int for row in after[1:] for cell in row[1 : len(HEADER)])
    assert sheets.formulas_evaluated == 0
