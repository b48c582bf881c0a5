"""dashboard_sheet: the dashboard people read, made equal to `public.daily_metrics`."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from bamboo_assets import checks
from bamboo_assets.assets import daily_metrics
from bamboo_assets.assets.run import DaysRun, StepResult
from bamboo_assets.warehouse import locks, reports

SPEC = dg.AssetSpec(
    "dashboard_sheet",
    description=(
        "The dashboard (a Google Sheet, or `dashboard.csv` and `dashboard.html` locally) equal "
        "to `public.daily_metrics`. Every run compares the whole sheet with the whole metrics "
        "table and writes only the cells that differ, in one request: later days changed by a "
        "backfill, rows people deleted, and values people overwrote are all put right. Days are "
        "date cells, counts numbers. The header row is only extended; columns, rows and charts "
        "people added are left alone. Bamboo's own chart of the four metrics follows the rows. "
        "One run at a time writes it."
    ),
    deps=[daily_metrics.SPEC.key],
    kinds={"googlesheets"},
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=36), warn_window=timedelta(hours=28)
    ),
    skippable=True,
)
CHECKS = [checks.DASHBOARD_MATCHES]


def run(days_run: DaysRun) -> StepResult:
    """Refresh the whole dashboard once for the run, whatever its number of days."""
    conn = days_run.conn
    with conn.transaction():
        conn.execute(locks.TAKE, {"namespace": locks.DASHBOARD, "key": 0})
        metrics = reports.all_metrics(conn)
        report = days_run.dashboard.refresh(metrics)
    plan = report.plan
    days_run.log.info(
        f"dashboard {report.location}: {len(plan.appended_days)} rows appended, "
        f"{len(plan.updated_days)} rows updated, {report.requests} API requests"
    )
    written = set(plan.appended_days) | set(plan.updated_days)
    location = (
        dg.MetadataValue.url(report.location)
        if report.location.startswith("http")
        else dg.MetadataValue.path(report.location)
    )
    return StepResult(
        per_day={
            day: {"row": "written" if str(day) in written else "unchanged"}
            for day in days_run.ledger.remaining()
        },
        shared={
            "dashboard": location,
            "days_in_dashboard": len(metrics),
            "rows_appended": len(plan.appended_days),
            "rows_updated": len(plan.updated_days),
            "columns_added": dg.MetadataValue.json(plan.added_columns),
            "api_requests": report.requests,
        },
        checks=[checks.dashboard_matches(report.written, metrics, report.chart_matches)],
    )
