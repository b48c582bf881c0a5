"""Bamboo's chart on the dashboard worksheet (pure): its spec, and the requests that keep it.

One line chart of the four metrics over `study_date`: attempts and correct attempts on the
left axis, active and new learners on the right one (they are a hundred times smaller). Its
source range grows with the rows. Bamboo finds its chart again by a developer-metadata entry
on the worksheet whose value is the chart's id, so people can rename, restyle or move it;
charts people drew are never touched. A deleted Bamboo chart is drawn again with the same id.
"""

from __future__ import annotations

import os
from typing import Any

from bamboo_assets.dashboard.plan import DashboardPlan

CHART_KEY = "bamboo.dashboard_chart"
TITLE = "Bamboo: attempts and learners per day"
SERIES = (
    ("attempts_per_day_total", "LEFT_AXIS"),
    ("correct_attempts_per_day", "LEFT_AXIS"),
    ("unique_users_per_day", "RIGHT_AXIS"),
    ("new_users_per_day", "RIGHT_AXIS"),
)
_RANGE_KEYS = ("sheetId", "startRowIndex", "endRowIndex", "startColumnIndex", "endColumnIndex")


def _column(sheet_id: int, column: int, rows: int) -> dict[str, Any]:
    grid = {
        "sheetId": sheet_id,
        "startRowIndex": 0,
        "endRowIndex": rows,
        "startColumnIndex": column,
        "endColumnIndex": column + 1,
    }
    return {"sourceRange": {"sources": [grid]}}


def chart_spec(sheet_id: int, plan: DashboardPlan) -> dict[str, Any]:
    """The ChartSpec for the days the plan leaves on the sheet (header row included)."""
    rows, columns = plan.last_row, plan.columns
    return {
        "title": TITLE,
        "basicChart": {
            "chartType": "LINE",
            "legendPosition": "BOTTOM_LEGEND",
            "headerCount": 1,
            "axis": [
                {"position": "BOTTOM_AXIS", "title": "study_date"},
                {"position": "LEFT_AXIS", "title": "attempts"},
                {"position": "RIGHT_AXIS", "title": "learners"},
            ],
            "domains": [{"domain": _column(sheet_id, columns["study_date"], rows)}],
            "series": [
                {"series": _column(sheet_id, columns[name], rows), "targetAxis": axis}
                for name, axis in SERIES
            ],
        },
    }


def _sources(spec: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What a chart reads, comparable whatever Google left out (it omits zero fields)."""
    chart = spec.get("basicChart") or {}
    parts = [(d.get("domain") or {}, "DOMAIN") for d in chart.get("domains") or []]
    parts += [(s.get("series") or {}, s.get("targetAxis")) for s in chart.get("series") or []]
    return [
        (axis, *(grid.get(key, 0) for key in _RANGE_KEYS))
        for data, axis in parts
        for grid in (data.get("sourceRange") or {}).get("sources") or []
    ]


def bamboo_chart(sheet: dict[str, Any] | None) -> tuple[int | None, dict[str, Any] | None]:
    """The id the worksheet's marker names, and that chart if it is still there."""
    marker = next(
        (
            m
            for m in (sheet or {}).get("developerMetadata") or []
            if m.get("metadataKey") == CHART_KEY
        ),
        None,
    )
    if marker is None or not str(marker.get("metadataValue", "")).isdigit():
        return None, None
    chart_id = int(marker["metadataValue"])
    chart = next(
        (c for c in (sheet or {}).get("charts") or [] if c.get("chartId") == chart_id), None
    )
    return chart_id, chart


def chart_matches(sheet: dict[str, Any] | None, sheet_id: int, plan: DashboardPlan) -> bool:
    """Bamboo's chart is on the worksheet and reads every day the plan leaves there."""
    _, chart = bamboo_chart(sheet)
    return chart is not None and _sources(chart.get("spec") or {}) == _sources(
        chart_spec(sheet_id, plan)
    )


def chart_requests(
    sheet: dict[str, Any] | None, sheet_id: int, plan: DashboardPlan
) -> list[dict[str, Any]]:
    """The batchUpdate requests (if any) that leave exactly one up-to-date Bamboo chart."""
    chart_id, chart = bamboo_chart(sheet)
    spec = chart_spec(sheet_id, plan)
    if chart is not None:
        if _sources(chart.get("spec") or {}) == _sources(spec):
            return []
        return [{"updateChartSpec": {"chartId": chart_id, "spec": spec}}]
    requests: list[dict[str, Any]] = []
    if chart_id is None:
        chart_id = int.from_bytes(os.urandom(4), "big") >> 1
        marker = {
            "metadataKey": CHART_KEY,
            "metadataValue": str(chart_id),
            "location": {"sheetId": sheet_id},
            "visibility": "DOCUMENT",
        }
        requests.append({"createDeveloperMetadata": {"developerMetadata": marker}})
    anchor = {"sheetId": sheet_id, "rowIndex": 1, "columnIndex": max(plan.columns.values()) + 2}
    position = {"overlayPosition": {"anchorCell": anchor, "widthPixels": 900, "heightPixels": 420}}
    chart_json = {"chartId": chart_id, "spec": spec, "position": position}
    return [{"addChart": {"chart": chart_json}}, *requests]
