"""The pipeline: six assets of one lineage, run as one Dagster step over a day or a range.

Dagster marks every partition of a step's range materialized when the step returns, and
failed when it raises (a limit of range runs), so a range run could not tell a bad day from the
good ones. Here the six assets are one `multi_asset` whose step does the selected assets in
lineage order over the run's days, keeping a per-day ledger (core/ledger.py) that every step
uses the same way: a step does the days still to do and records the ones that fail. At the
end the step reports a materialization of each selected asset for each day that went through,
with that day's own metadata, and none for a failed day; then, if any day failed, it fails
naming them. The UI's partition view therefore shows each good day materialized and each bad
day failed, for every asset, and its own recovery (Materialize, "Failed and missing") selects
exactly the failed days.
"""

import time
from collections.abc import Iterator
from types import ModuleType

import dagster as dg
from pydantic import Field

from bamboo_assets.assets import (
    daily_metrics,
    dashboard_sheet,
    digest_email,
    raw_attempts,
    report,
    solutions_table,
    validated_attempts,
)
from bamboo_assets.assets.run import BACKFILL_TAG, RESUME_TAG, DaysRun, days_of
from bamboo_assets.core.alerts import RECOVERY, failed_days_summary
from bamboo_assets.core.ledger import DayLedger
from bamboo_assets.dashboard.resource import Dashboard
from bamboo_assets.resources.mail import Mailer
from bamboo_assets.resources.raw_answers import RawAnswerStore
from bamboo_assets.resources.statistics_api import StatisticsApi
from bamboo_assets.settings import Settings
from bamboo_assets.warehouse import ledger as run_ledger
from bamboo_assets.warehouse.connection import Warehouse

GROUP = "bamboo"
# In lineage order: each step's days are those the earlier steps left.
STEPS: tuple[ModuleType, ...] = (
    raw_attempts,
    validated_attempts,
    solutions_table,
    daily_metrics,
    dashboard_sheet,
    digest_email,
)


class PipelineConfig(dg.Config):
    """Run config of the pipeline (the UI launchpad shows it under `ops: bamboo_pipeline`)."""

    refetch: bool = Field(
        default=False,
        description="Call the API for every day of the run, also days whose stored answer is "
        "final (fetched more than BAMBOO_REFETCH_DAYS days after the day ended). The run tag "
        f"{raw_attempts.REFETCH_TAG}=true does the same.",
    )


def build_pipeline(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The pipeline's assets over `partitions` (built from the settings when they load)."""

    @dg.multi_asset(
        name="bamboo_pipeline",
        specs=[step.SPEC for step in STEPS],
        check_specs=[check for step in STEPS for check in getattr(step, "CHECKS", [])],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=True,
        group_name=GROUP,
    )
    def bamboo_pipeline(
        context: dg.AssetExecutionContext,
        config: PipelineConfig,
        settings: Settings,
        statistics_api: StatisticsApi,
        raw_answers: RawAnswerStore,
        warehouse: Warehouse,
        dashboard: Dashboard,
        mailer: Mailer,
    ) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization | dg.AssetCheckResult]:
        """Fetch, validate and load the run's days, refresh the metrics, the dashboard and
        send the digest: the selected assets, in lineage order, one ledger of days."""
        tags = context.run.tags
        days_run = DaysRun(
            ledger=DayLedger(days_of(context)),
            log=context.log,
            settings=settings,
            statistics_api=statistics_api,
            raw_answers=raw_answers,
            warehouse=warehouse,
            dashboard=dashboard,
            mailer=mailer,
            run_id=context.run_id,
            root_run_id=context.run.root_run_id or context.run_id,
            backfill_id=tags.get(BACKFILL_TAG),
            refetch=config.refetch or tags.get(raw_attempts.REFETCH_TAG) == "true",
        )
        selected = [step for step in STEPS if step.SPEC.key in context.selected_asset_keys]
        try:
            if tags.get(RESUME_TAG) == "true" and context.run.root_run_id:
                days = days_run.ledger.days
                done = run_ledger.done_by_root(days_run.conn, days_run.root_run_id, days)
                days_run.ledger = DayLedger(days, done_earlier=done)
            yield from _run_steps(context, days_run, selected)
        finally:
            days_run.close()

    return bamboo_pipeline


def _run_steps(
    context: dg.AssetExecutionContext, days_run: DaysRun, steps: list[ModuleType]
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization | dg.AssetCheckResult]:
    ledger, finished = days_run.ledger, []
    for step in steps:
        name = step.SPEC.key.to_user_string()
        if not ledger.remaining() and step is not digest_email:
            continue  # every day failed: only the digest, which says so, has work left
        began = time.monotonic()
        try:
            result = step.run(days_run)
        except Exception as raised:
            error = days_run.explain(raised)
            # The steps before keep every day they did; this step and the later ones fail
            # every day still to do.
            yield from report.outcome(context, finished, ledger)
            for day in ledger.remaining():
                ledger.fail(day, name, f"{type(error).__name__}: {error}")
            _keep(days_run)
            raise dg.Failure(
                description=f"{name} failed for every day it had to do: {error}. {RECOVERY}"
            ) from error
        seconds = time.monotonic() - began
        result.shared["step_seconds"] = round(seconds, 3)
        days_run.log.info(f"{name}: {len(result.per_day)} days in {seconds:.2f}s")
        days_run.note_checks(result.checks)
        selected_checks = context.selected_asset_check_keys
        yield from (
            check
            for check in result.checks
            if dg.AssetCheckKey(check.asset_key, check.check_name) in selected_checks
        )
        finished.append((step, result))
    yield from report.outcome(context, finished, ledger)
    _keep(days_run)
    if ledger.failures:
        raise dg.Failure(
            description=failed_days_summary(ledger.failures, len(ledger.days)),
            metadata={
                "failed_days": dg.MetadataValue.json(
                    [
                        {"day": str(f.day), "step": f.step, "reason": f.reason}
                        for f in ledger.failures
                    ]
                )
            },
        )


def _keep(days_run: DaysRun) -> None:
    """Record the run's days in the warehouse's ledger; a warehouse that is down loses only
    this record (the run's own failure still names the days)."""
    try:
        run_ledger.record(
            days_run.conn,
            days_run.ledger,
            run_id=days_run.run_id,
            root_run_id=days_run.root_run_id,
            backfill_id=days_run.backfill_id,
        )
    except Exception as error:  # the run's outcome is already decided; say why, and go on
        days_run.log.warning(f"could not record the run's days in bamboo.run_days: {error}")
