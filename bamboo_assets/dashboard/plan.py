"""How the dashboard grid is brought up to date with `public.daily_metrics` (pure).

The notebook's rules, kept: the header row is only ever extended; a day's row is found by its
`study_date` and rewritten, or appended when missing. Fixed: columns are found by header name
wherever people moved them; cells people added (other columns, other rows) are never
touched; a date a person retyped in another format (`dd.mm.yyyy`, a date serial number)
still matches its day; only cells whose value differs are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from bamboo_assets.core.metrics import METRIC_COLUMNS, DayMetrics

SHEETS_EPOCH = date(1899, 12, 30)  # day 0 of spreadsheet date serial numbers
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%d/%m/%Y", "%Y.%m.%d")


@dataclass(frozen=True)
class CellRun:
    """Consecutive cells of one row to write: 1-based row and first column."""

    row: int
    column: int
    values: list[Any]


@dataclass
class DashboardPlan:
    """The writes that make the grid equal the metrics, and what they change.

    `columns` gives each metric column's 0-based position after the writes, and `last_row`
    the 1-based number of the last row that holds a day (1 when only the header does): what
    a chart of the days reads.
    """

    runs: list[CellRun] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)
    updated_days: list[str] = field(default_factory=list)
    appended_days: list[str] = field(default_factory=list)
    columns: dict[str, int] = field(default_factory=dict)
    last_row: int = 1


def sheet_date(cell: Any) -> date | None:
    """The day a cell shows, whatever format a person gave it; None if it is not a date."""
    if isinstance(cell, date):
        return cell
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int | float):
        return SHEETS_EPOCH + timedelta(days=int(cell)) if 1 <= cell < 2_958_466 else None
    text = str(cell).strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _same(cell: Any, value: int) -> bool:
    try:
        return float(cell) == value
    except (TypeError, ValueError):
        return False


def plan_dashboard(
    grid: Sequence[Sequence[Any]], metrics: Sequence[DayMetrics], *, typed_dates: bool = False
) -> DashboardPlan:
    """Plan the writes that bring `grid` (rows of cell values, header first) up to date.

    A day is written as a `date`. With `typed_dates` (a sheet that has date cells), a day
    shown as ISO text (as Bamboo once wrote it) or as a bare serial number is rewritten as a
    date; text in other formats people chose stays.
    """
    plan = DashboardPlan()
    header = [str(cell).strip() for cell in grid[0]] if grid else []
    for name in METRIC_COLUMNS:
        if name not in header:
            plan.added_columns.append(name)
            header.append(name)
    if plan.added_columns:
        first = len(header) - len(plan.added_columns) + 1
        plan.runs.append(CellRun(1, first, list(plan.added_columns)))

    position = plan.columns = {name: header.index(name) for name in METRIC_COLUMNS}
    date_column = position["study_date"]
    rows_by_day: dict[date, int] = {}
    for index, row in enumerate(grid[1:], start=1):
        day = sheet_date(row[date_column]) if len(row) > date_column else None
        if day is not None:
            rows_by_day.setdefault(day, index)
    next_row = max(len(grid), 1)

    for metrics_row in metrics:
        day = date.fromisoformat(metrics_row[0])
        values = (day, *metrics_row[1:])
        if day in rows_by_day:
            row = grid[rows_by_day[day]]
            cells = {
                position[name]: value
                for name, value in zip(METRIC_COLUMNS[1:], values[1:], strict=True)
                if not _same(row[position[name]] if len(row) > position[name] else "", value)
            }
            if typed_dates and _untyped(row[date_column], metrics_row[0]):
                cells[date_column] = day
            if cells:
                plan.updated_days.append(metrics_row[0])
            row_number = rows_by_day[day] + 1
        else:
            cells = dict(zip((position[n] for n in METRIC_COLUMNS), values, strict=True))
            plan.appended_days.append(metrics_row[0])
            next_row += 1
            row_number = next_row
        plan.last_row = max(plan.last_row, row_number)
        plan.runs.extend(_runs(row_number, cells))
    return plan


def _untyped(cell: Any, day: str) -> bool:
    """A day cell that should be a date cell: ISO text, or a serial number without format."""
    if isinstance(cell, str):
        return cell.strip() == day
    return isinstance(cell, int | float) and not isinstance(cell, bool)


def _runs(row: int, cells: dict[int, Any]) -> list[CellRun]:
    """Group a row's cells (0-based column → value) into runs of adjacent columns."""
    runs: list[CellRun] = []
    for column in sorted(cells):
        if runs and runs[-1].column + len(runs[-1].values) == column + 1:
            runs[-1].values.append(cells[column])
        else:
            runs.append(CellRun(row, column + 1, [cells[column]]))
    return runs


def apply_plan(grid: list[list[Any]], plan: DashboardPlan) -> list[list[Any]]:
    """The grid after the plan's writes (how a local dashboard file is updated)."""
    for run in plan.runs:
        while len(grid) < run.row:
            grid.append([])
        row = grid[run.row - 1]
        end = run.column - 1 + len(run.values)
        row.extend([""] * (end - len(row)))
        row[run.column - 1 : end] = run.values
    return grid
