"""The days of a run still going: a day that failed at one step is passed over by the later
steps, and the run fails at its last Bamboo step, naming each failed day and why.

Dagster cannot fail single partitions of one run (dagster-io/dagster issue 17836): raising
fails every day of the range, returning marks them all materialized. So each step does the
days it can, records the others in `bamboo.day_failures` (keyed by the run's root, so a
re-execution sees them), and the last step selected in the run raises once its own days are
done. A step left with no day to do raises at once.
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import psycopg

from bamboo_assets import sql
from bamboo_assets.messages import failed_days_summary
from bamboo_assets.partitions import partition_days


def run_key(context: dg.AssetExecutionContext) -> str:
    """The run whose failures count: the root of a re-execution, else the run itself."""
    return context.run.root_run_id or context.run.run_id


def remaining(
    context: dg.AssetExecutionContext, conn: psycopg.Connection
) -> tuple[list[date], dict[date, tuple[str, str]]]:
    """The run's days still to do, and day → (step, reason) for those that failed at an earlier
    step; fails the step when no day is left."""
    with conn.transaction():
        rows = conn.execute(sql.RUN_FAILURES, (run_key(context),)).fetchall()
    days = partition_days(context)
    earlier = {day: (step, reason) for day, step, reason in rows if day in set(days)}
    if len(earlier) == len(days):
        conclude(context, earlier)
    return [day for day in days if day not in earlier], earlier


def record_failures(
    context: dg.AssetExecutionContext,
    conn: psycopg.Connection,
    processed: list[date],
    failures: dict[date, str],
) -> None:
    """Forget earlier failures of the days this step processed, then keep its own (committed at
    once, so a step that raises next still leaves them for the digest and for a re-execution)."""
    run = run_key(context)
    with conn.transaction():
        conn.execute(sql.FORGET_FAILURES, (run, processed))
        for day, reason in failures.items():
            conn.execute(sql.RECORD_FAILURE, (run, day, context.asset_key.to_user_string(), reason))


def conclude(context: dg.AssetExecutionContext, failures: dict[date, tuple[str, str]]) -> None:
    """Fail the step when no day of the run is left, or when it is the last Bamboo step
    selected in the run and any day failed."""
    if not failures:
        return
    days = partition_days(context)
    layer = context.job_def.asset_layer  # of the run's subset: its selected assets only
    selected = layer.executable_asset_keys
    last = [key for key in layer.asset_graph.toposorted_asset_keys if key in selected][-1]
    if len(failures) < len(days) and context.asset_key != last:
        return
    ordered = sorted(failures.items())
    raise dg.Failure(
        description=failed_days_summary(
            [(str(day), step, reason) for day, (step, reason) in ordered], len(days)
        ),
        metadata={
            "failed_days": dg.MetadataValue.table(
                [
                    dg.TableRecord({"day": str(day), "step": step, "reason": reason})
                    for day, (step, reason) in ordered
                ],
                schema=dg.TableSchema(
                    columns=[
                        dg.TableColumn("day", "string"),
                        dg.TableColumn("step", "string"),
                        dg.TableColumn("reason", "string"),
                    ]
                ),
            )
        },
    )
