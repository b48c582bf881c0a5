"""daily_metrics: the notebook's four metrics per study day, in `public.daily_metrics`."""

from __future__ import annotations

from datetime import date

import dagster as dg

from bamboo_assets import checks
from bamboo_assets.assets import solutions_table
from bamboo_assets.assets.catalog import DAILY_METRICS
from bamboo_assets.assets.run import DaysRun, StepResult, table
from bamboo_assets.core.metrics import METRIC_COLUMNS, DayMetrics
from bamboo_assets.warehouse import metrics, reports

SPEC = dg.AssetSpec(
    "daily_metrics",
    description=(
        "The notebook's metrics per study day in `public.daily_metrics`: "
        "`attempts_per_day_total`, `correct_attempts_per_day`, `unique_users_per_day`, "
        "`new_users_per_day`. A user's first day can move earlier when an earlier day is "
        "backfilled, so loading a day also recomputes the later days whose new users it "
        "changed: the table equals the notebook's query over the whole table, whatever order "
        "days are loaded in."
    ),
    deps=[solutions_table.SPEC.key],
    kinds={"postgres"},
    metadata=DAILY_METRICS,
    skippable=True,
)
CHECKS = [checks.METRICS_RECONCILE]


def run(days_run: DaysRun) -> StepResult:
    """Recompute, in one statement, every study day the run's days touch."""
    conn, days = days_run.conn, days_run.ledger.remaining()
    refresh = metrics.refresh(conn, days)
    later = [
        day for day in refresh.changed if date.fromisoformat(day) > max(days, default=date.min)
    ]
    if later:
        days_run.log.info(f"new_users_per_day changed on later days: {later}")
    stored = {row.study_date: row for row in reports.metrics_of(conn, days)}
    sampled = checks.reconcile_sample(refresh.recomputed)
    changed = [row for row in refresh.changed.values() if row is not None]
    return StepResult(
        per_day={day: _day_metadata(stored.get(str(day))) for day in days},
        shared={
            "dagster/row_count": reports.row_count(conn, "daily_metrics"),
            "days_recomputed": len(refresh.recomputed),
            "later_days_changed": dg.MetadataValue.json(later),
            "changed_rows": table([row._asdict() for row in changed], _COLUMNS),
        },
        checks=[checks.metrics_match(sampled, metrics.mismatched_days(conn, sampled))],
    )


def _day_metadata(row: DayMetrics | None) -> dict[str, object]:
    """The day's four numbers: true per-day figures, which the asset page can plot."""
    if row is None:
        return {"attempts_per_day_total": 0, "row": "none: no attempts that day"}
    return {name: getattr(row, name) for name in METRIC_COLUMNS[1:]}


_COLUMNS = [("study_date", "string"), *((name, "int") for name in METRIC_COLUMNS[1:])]
