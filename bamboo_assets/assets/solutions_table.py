"""solutions_table: the days' valid attempts in `public.solutions`, the notebook's table."""

from __future__ import annotations

import dagster as dg

from bamboo_assets import checks
from bamboo_assets.assets import validated_attempts
from bamboo_assets.assets.catalog import SOLUTIONS
from bamboo_assets.assets.run import DaysRun, StepResult, table
from bamboo_assets.warehouse import loading, reports

SPEC = dg.AssetSpec(
    "solutions_table",
    description=(
        "The day's valid attempts in `public.solutions`, the notebook's table. Each "
        "`(user_id, created_at)` is inserted once: the first in the answer wins, and a re-run "
        "inserts nothing twice. The days of a run load in one transaction, each whole or not "
        "at all; a day whose staged rows were lost in a crash is refused alone."
    ),
    deps=[validated_attempts.SPEC.key],
    kinds={"postgres"},
    metadata=SOLUTIONS,
    skippable=True,
)
CHECKS = [checks.NO_DUPLICATES]
PREVIEW = [("user_id", "string"), ("attempt_type", "string"), ("is_correct", "int"),
           ("created_at", "string")]  # fmt: skip


def run(days_run: DaysRun) -> StepResult:
    """Load every remaining day that staging holds whole; a day refused fails alone."""
    conn, ledger, step = days_run.conn, days_run.ledger, SPEC.key.to_user_string()
    for day, why in loading.refused_days(conn, ledger.remaining()).items():
        ledger.fail(day, step, why)
    days = ledger.remaining()
    loaded = loading.load_days(conn, days) if days else {}
    inserted = sum(load.inserted for load in loaded.values())
    days_run.log.info(f"solutions_table: {inserted:,} new rows for {len(loaded)} days")
    names = [name for name, _ in PREVIEW]
    return StepResult(
        per_day={
            day: {
                "prepared": load.prepared,
                "inserted": load.inserted,
                "already_present": load.prepared - load.inserted,
                "load": load.path,
                "preview": table(
                    [dict(zip(names, row, strict=True)) for row in loading.preview(conn, day)],
                    PREVIEW,
                ),
            }
            for day, load in loaded.items()
        },
        shared={"dagster/row_count": reports.row_count(conn, "solutions")},
        checks=[checks.no_duplicates(loading.unique_attempt_index(conn))],
    )
