"""`public.daily_metrics` → the dashboard sheet people read."""

from datetime import timedelta

import dagster as dg

from bamboo_assets import checks, sql
from bamboo_assets.assets import run_days
from bamboo_assets.assets.common import daily_asset
from bamboo_assets.assets.metrics import daily_metrics
from bamboo_assets.resources.dashboard import Dashboard
from bamboo_assets.resources.warehouse import Warehouse


@daily_asset(
    kinds={"googlesheets"},
    deps=[daily_metrics],
    pool="google_sheets",
    check_specs=[checks.DASHBOARD_MATCHES],
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=36), warn_window=timedelta(hours=28)
    ),
)
def dashboard_sheet(
    context: dg.AssetExecutionContext, warehouse: Warehouse, dashboard: Dashboard
) -> dg.MaterializeResult:
    """The dashboard (a Google Sheet, or `dashboard.csv` locally) equal to `public.daily_metrics`.

    Every run compares the whole sheet with the whole metrics table and writes only the cells
    that differ, in one request: later days changed by a backfill, rows people deleted, and
    values people overwrote are all put right. Days are date cells, counts numbers. The
    header row is only extended; columns, rows and charts people added are left alone.
    Bamboo's own chart of the four metrics follows the rows. The check compares the sheet as
    that request left it (no extra read). Writes to the sheet are serialized across runs by
    the `google_sheets` pool.
    """
    with warehouse.connect() as conn:
        _, earlier = run_days.remaining(context, conn)
        metrics = conn.execute(sql.ALL_METRICS).fetchall()
    report = dashboard.refresh(metrics)
    matches = checks.dashboard_matches(report.written, metrics, report.chart_matches)
    run_days.conclude(context, earlier)
    plan = report.plan
    context.log.info(
        f"dashboard {report.location}: {len(plan.appended_days)} rows appended, "
        f"{len(plan.updated_days)} rows updated, {report.requests} API requests"
    )
    return dg.MaterializeResult(
        metadata={
            "dashboard": dg.MetadataValue.url(report.location)
            if report.location.startswith("http")
            else dg.MetadataValue.path(report.location),
            "days_in_dashboard": len(metrics),
            "rows_appended": dg.MetadataValue.json(plan.appended_days),
            "rows_updated": dg.MetadataValue.json(plan.updated_days),
            "columns_added": dg.MetadataValue.json(plan.added_columns),
            "api_requests": report.requests,
        },
        check_results=[matches],
    )
