"""Data-quality checks users care about, evaluated right after each asset writes its days.

Declared as `check_specs` on the assets (the asset knows which days it just wrote), so every
run, whoever launched it, shows them on the asset page.
"""

from collections.abc import Sequence
from datetime import date

import dagster as dg
import psycopg

from bamboo_assets import sql
from bamboo_assets.dashboard_plan import MetricsRow, plan_dashboard
from bamboo_assets.validation import DayVerdict

NO_DUPLICATES = dg.AssetCheckSpec(
    "no_duplicate_attempts",
    asset="solutions_table",
    description="No (user_id, created_at) appears twice in public.solutions: a valid unique "
    "index on those columns (the notebook's unique_check) is in place.",
)
REJECTED_SHARE = dg.AssetCheckSpec(
    "rejected_share_below_threshold",
    asset="validated_attempts",
    description="Each day's share of rejected records stays below BAMBOO_MAX_REJECTED_SHARE "
    "(warning): a jump usually means the API changed its format.",
)
METRICS_RECONCILE = dg.AssetCheckSpec(
    "metrics_match_solutions",
    asset="daily_metrics",
    description="public.daily_metrics equals the notebook's definitions recomputed from "
    "public.solutions for every day the run changed.",
)
DASHBOARD_MATCHES = dg.AssetCheckSpec(
    "dashboard_matches_metrics",
    asset="dashboard_sheet",
    description="The dashboard as the refresh left it (Google's answer to the write, no extra "
    "read): every day's row equals public.daily_metrics, and Bamboo's chart reads every day.",
)


def no_duplicates(conn: psycopg.Connection) -> dg.AssetCheckResult:
    """Duplicates are impossible exactly while a valid unique index on (user_id, created_at)
    exists: checking the catalog costs nothing, counting a million-row day half a second."""
    index = conn.execute(sql.UNIQUE_ATTEMPT_INDEX).fetchone()
    return dg.AssetCheckResult(
        check_name=NO_DUPLICATES.name,
        passed=index is not None,
        metadata={"enforced_by": index[0] if index else "nothing: no valid unique index"},
    )


def rejected_share(verdicts: dict[date, DayVerdict], threshold: float) -> dg.AssetCheckResult:
    shares = {
        str(day): round(v.rejected_total / v.extracted, 4) if v.extracted else 0.0
        for day, v in verdicts.items()
    }
    over = {day: share for day, share in shares.items() if share > threshold}
    return dg.AssetCheckResult(
        check_name=REJECTED_SHARE.name,
        passed=not over,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "threshold": threshold,
            "days_over_threshold": dg.MetadataValue.json(over),
            "highest_share": max(shares.values(), default=0.0),
        },
    )


def metrics_match(conn: psycopg.Connection, days: Sequence[date]) -> dg.AssetCheckResult:
    """The notebook's definitions, written differently from the incremental queries."""
    if not days:
        return dg.AssetCheckResult(check_name=METRICS_RECONCILE.name, passed=True)
    expected = conn.execute(
        sql.RECOMPUTED_METRICS, {"first": min(days), "last": max(days), "days": list(days)}
    ).fetchall()
    stored = conn.execute(sql.METRICS_OF_DAYS, (list(days),)).fetchall()
    mismatched = sorted({row[0] for row in set(expected) ^ set(stored)})
    return dg.AssetCheckResult(
        check_name=METRICS_RECONCILE.name,
        passed=not mismatched,
        metadata={"days_checked": len(days), "mismatched_days": dg.MetadataValue.json(mismatched)},
    )


def dashboard_matches(
    grid: list[list], metrics: Sequence[MetricsRow], chart_matches: bool | None = None
) -> dg.AssetCheckResult:
    """`grid` is the dashboard as the refresh left it; `chart_matches` whether Bamboo's chart
    reads every day (None where the dashboard keeps no chart)."""
    plan = plan_dashboard(grid, metrics)
    wrong = plan.updated_days + plan.appended_days
    return dg.AssetCheckResult(
        check_name=DASHBOARD_MATCHES.name,
        passed=not wrong and not plan.added_columns and chart_matches is not False,
        metadata={
            "days_compared": len(metrics),
            "days_different": dg.MetadataValue.json(wrong),
            "missing_columns": dg.MetadataValue.json(plan.added_columns),
            "chart_matches": "no chart kept" if chart_matches is None else chart_matches,
        },
    )
