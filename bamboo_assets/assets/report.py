"""How a run's outcome reaches Dagster's partition view: each selected asset is materialized for
exactly the days that went through, and marked failed for the others.

When every day went through, each asset's materializations come from one `MaterializeResult`,
which Dagster expands to the run's whole range (in a batch, where the instance writes batches:
the PostgreSQL instance with DAGSTER_EVENT_BATCH_SIZE), each day carrying its own metadata.
When some day failed, the good days are reported one by one and each failed day gets a planned
materialization in this failing run, which is what Dagster's partition view reads as *failed*.
Dagster emits those planned events itself at the start of a run unless
DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS is set, as Bamboo's deployments set it: one
event per asset instead of one per asset and day, which at hundreds of days costs seconds.
"""

import logging
from collections.abc import Iterator, Sequence
from datetime import date
from types import ModuleType

import dagster as dg
from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent

from bamboo_assets.assets.run import StepResult
from bamboo_assets.core.ledger import DayLedger

KEPT = {"kept": "done by an earlier run this run re-executes; not done again"}


def outcome(
    context: dg.AssetExecutionContext,
    finished: Sequence[tuple[ModuleType, StepResult]],
    ledger: DayLedger,
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
    """Materializations of the finished steps' assets, and the failed marks of every selected
    asset's days that did not go through."""
    good = ledger.done()
    whole_range = good == ledger.days
    for step, result in finished:
        key = step.SPEC.key
        if whole_range:
            for day in good:
                metadata = result.per_day.get(day, KEPT)
                context.add_asset_metadata(metadata, asset_key=key, partition_key=str(day))
            yield dg.MaterializeResult(asset_key=key, metadata=result.shared)
            continue
        for day in good:
            metadata = {**result.shared, **result.per_day.get(day, KEPT)}
            yield dg.AssetMaterialization(key, partition=str(day), metadata=metadata)
    finished_keys = {step.SPEC.key for step, _ in finished}
    for key in context.selected_asset_keys:
        failed = [f.day for f in ledger.failures] if key in finished_keys else ledger.days
        _mark_failed(context, key, failed)


def _mark_failed(context: dg.AssetExecutionContext, key: dg.AssetKey, days: list[date]) -> None:
    for day in days:
        planned = DagsterEvent.build_asset_materialization_planned_event(
            context.job_name,
            context.op_def.name,
            AssetMaterializationPlannedData(key, partition=str(day)),
        )
        context.instance.report_dagster_event(planned, context.run_id, logging.DEBUG)
