"""The dashboard rules on grids: header only extended, upsert by day, people's cells kept."""

from datetime import date

import pytest

from bamboo_assets.core.metrics import METRIC_COLUMNS, DayMetrics
from bamboo_assets.dashboard.plan import apply_plan, plan_dashboard, sheet_date

METRICS = [DayMetrics("2025-03-01", 10, 4, 3, 3), DayMetrics("2025-03-02", 20, 5, 6, 2)]


def refreshed(grid: list[list]) -> list[list]:
    return apply_plan([list(row) for row in grid], plan_dashboard(grid, METRICS))


def test_an_empty_sheet_gets_the_header_and_one_row_per_day() -> None:
    assert refreshed([]) == [
        list(METRIC_COLUMNS),
        [date(2025, 3, 1), 10, 4, 3, 3],
        [date(2025, 3, 2), 20, 5, 6, 2],
    ]


def test_an_up_to_date_sheet_needs_no_writes() -> None:
    grid = refreshed([])
    assert plan_dashboard(grid, METRICS).runs == []


def test_columns_people_moved_or_added_and_their_rows_are_left_alone() -> None:
    grid = [
        ["notes", "new_users_per_day", "study_date", "attempts_per_day_total", "owner"],
        ["checked", 0, "2025-03-01", 999, "ann"],
        ["a row people added"],
    ]
    result = refreshed(grid)
    assert result[0][:5] == grid[0]
    assert result[0][5:] == ["correct_attempts_per_day", "unique_users_per_day"]
    assert result[1] == ["checked", 3, "2025-03-01", 10, "ann", 4, 3]
    assert result[2] == ["a row people added"]
    assert result[3][1:4] == [2, date(2025, 3, 2), 20]


@pytest.mark.parametrize("shown", ["01.03.2025", "2025/03/01", 45717, 45717.0, " 2025-03-01 "])
def test_a_date_retyped_in_another_format_still_matches_its_day(shown: object) -> None:
    grid = [list(METRIC_COLUMNS), [shown, 10, 4, 3, 3]]
    plan = plan_dashboard(grid, METRICS)
    assert plan.appended_days == ["2025-03-02"]
    assert plan.updated_days == []


def test_a_deleted_day_row_is_added_again_and_changed_values_are_rewritten() -> None:
    grid = [list(METRIC_COLUMNS), ["2025-03-02", 20, 5, 6, 7]]
    plan = plan_dashboard(grid, METRICS)
    assert plan.updated_days == ["2025-03-02"]
    assert plan.appended_days == ["2025-03-01"]
    assert apply_plan(grid, plan)[1] == ["2025-03-02", 20, 5, 6, 2]


def test_on_a_sheet_with_date_cells_a_day_once_written_as_iso_text_becomes_a_date() -> None:
    grid = [list(METRIC_COLUMNS), ["2025-03-01", 10, 4, 3, 3], ["02.03.2025", 20, 5, 6, 2]]
    plan = plan_dashboard(grid, METRICS, typed_dates=True)
    assert plan.updated_days == ["2025-03-01"]  # a person's dd.mm.yyyy stays as typed
    assert apply_plan(grid, plan)[1:] == [
        [date(2025, 3, 1), 10, 4, 3, 3],
        ["02.03.2025", 20, 5, 6, 2],
    ]
    assert plan_dashboard(apply_plan(grid, plan), METRICS, typed_dates=True).runs == []


def test_sheet_dates() -> None:
    assert sheet_date(45717) == date(2025, 3, 1)
    assert sheet_date(date(2025, 3, 1)) == date(2025, 3, 1)
    assert sheet_date("not a date") is None
    assert sheet_date(True) is None


@pytest.mark.parametrize(
    ("serial", "day"),
    [(0, None), (1, date(1899, 12, 31)), (2_958_465, date(9999, 12, 31)), (2_958_466, None)],
)
def test_serial_numbers_are_days_only_within_the_range_sheets_shows_as_dates(
    serial: int, day: date | None
) -> None:
    assert sheet_date(serial) == day  # past 9999-12-31 a number is a number, not a crash


def test_on_a_sheet_with_date_cells_a_day_shown_as_a_bare_serial_number_becomes_a_date() -> None:
    grid = [list(METRIC_COLUMNS), [45717, 10, 4, 3, 3], [date(2025, 3, 2), 20, 5, 6, 2]]
    plan = plan_dashboard(grid, METRICS, typed_dates=True)
    assert plan.updated_days == ["2025-03-01"]
    assert apply_plan(grid, plan)[1][0] == date(2025, 3, 1)


def test_a_blank_row_people_left_between_days_is_kept_and_skipped() -> None:
    grid = [list(METRIC_COLUMNS), [date(2025, 3, 1), 10, 4, 3, 3], []]
    plan = plan_dashboard(grid, METRICS)
    assert plan.appended_days == ["2025-03-02"]
    assert apply_plan(grid, plan)[2:] == [[], [date(2025, 3, 2), 20, 5, 6, 2]]


def test_adjacent_cells_are_written_as_one_range_and_gaps_stay_empty() -> None:
    grid = [["notes", *METRIC_COLUMNS[:3], "owner", *METRIC_COLUMNS[3:]], ["x"]]
    plan = plan_dashboard(grid, METRICS[:1])
    # The day's row is appended: columns 2-4, then 6-7 around the person's "owner" column.
    assert [(run.column, len(run.values)) for run in plan.runs] == [(2, 3), (6, 2)]
    assert apply_plan(grid, plan)[2] == ["", date(2025, 3, 1), 10, 4, "", 3, 3]
