"""Bamboo's chart on the sheet (pure): created once, found again by its marker, kept in step."""

from bamboo_assets import checks
from bamboo_assets.core.metrics import METRIC_COLUMNS, DayMetrics
from bamboo_assets.dashboard.chart import CHART_KEY, chart_matches, chart_requests
from bamboo_assets.dashboard.plan import plan_dashboard

METRICS = [DayMetrics("2025-03-01", 10, 4, 3, 3), DayMetrics("2025-03-02", 20, 5, 6, 2)]
SHEET_ID = 7


def sheet_after(requests: list[dict], charts: list[dict] | None = None) -> dict:
    """The worksheet as Google would show it after `requests` (charts and markers only)."""
    charts = list(charts or [])
    metadata = []
    for request in requests:
        if "addChart" in request:
            charts.append(request["addChart"]["chart"])
        if "createDeveloperMetadata" in request:
            metadata.append(request["createDeveloperMetadata"]["developerMetadata"])
        if "updateChartSpec" in request:
            (chart,) = [c for c in charts if c["chartId"] == request["updateChartSpec"]["chartId"]]
            chart["spec"] = request["updateChartSpec"]["spec"]
    return {"charts": charts, "developerMetadata": metadata}


def test_the_chart_is_made_once_then_left_alone_then_follows_new_rows() -> None:
    grid = [list(METRIC_COLUMNS), *[list(row) for row in METRICS]]
    plan = plan_dashboard(grid, METRICS)
    first = chart_requests(None, SHEET_ID, plan)
    assert [next(iter(r)) for r in first] == ["addChart", "createDeveloperMetadata"]
    sheet = sheet_after(first)
    (marker,) = sheet["developerMetadata"]
    assert marker["metadataKey"] == CHART_KEY
    assert marker["metadataValue"] == str(sheet["charts"][0]["chartId"])
    assert chart_matches(sheet, SHEET_ID, plan)
    assert chart_requests(sheet, SHEET_ID, plan) == []

    longer = plan_dashboard(grid, [*METRICS, DayMetrics("2025-03-03", 1, 1, 1, 1)])
    assert not chart_matches(sheet, SHEET_ID, longer)
    (update,) = chart_requests(sheet, SHEET_ID, longer)
    assert update["updateChartSpec"]["chartId"] == sheet["charts"][0]["chartId"]


def test_a_deleted_chart_is_drawn_again_with_its_id_and_a_person_s_chart_is_ignored() -> None:
    plan = plan_dashboard([], METRICS)
    sheet = sheet_after(chart_requests(None, SHEET_ID, plan))
    ours = sheet["charts"][0]["chartId"]
    theirs = {"chartId": ours + 1, "spec": {"title": "Bamboo: attempts and learners per day"}}
    sheet["charts"] = [theirs]  # a person deleted ours and titled theirs like it
    (again,) = chart_requests(sheet, SHEET_ID, plan)
    assert again["addChart"]["chart"]["chartId"] == ours
    result = checks.dashboard_matches(
        [list(METRIC_COLUMNS), *[list(r) for r in METRICS]],
        METRICS,
        chart_matches(sheet, SHEET_ID, plan),
    )
    assert not result.passed and result.metadata["chart_matches"].value is False


def test_the_dashboard_check_passes_only_when_every_day_and_the_chart_match() -> None:
    grid = [list(METRIC_COLUMNS), *[list(r) for r in METRICS]]
    plan = plan_dashboard(grid, METRICS)
    sheet = sheet_after(chart_requests(None, SHEET_ID, plan))
    result = checks.dashboard_matches(grid, METRICS, chart_matches(sheet, SHEET_ID, plan))
    assert result.passed and result.metadata["chart_matches"].value is True
    assert result.metadata["days_compared"].value == 2
    assert checks.dashboard_matches(grid, METRICS).metadata["chart_matches"].value == (
        "no chart kept"
    )

    edited = [list(row) for row in grid]
    edited[2][1] = 21  # a person typed over 2025-03-02's attempts
    wrong = checks.dashboard_matches(edited, METRICS)
    assert not wrong.passed
    assert wrong.metadata["days_different"].value == ["2025-03-02"]

    missing = checks.dashboard_matches([row[:4] for row in grid[:2]], METRICS)
    assert not missing.passed
    assert missing.metadata["missing_columns"].value == ["new_users_per_day"]
    # 2025-03-01 lacks the column's value, 2025-03-02 its whole row.
    assert missing.metadata["days_different"].value == ["2025-03-01", "2025-03-02"]
