"""What the daemon watches for: failed runs (one alert each) and finished backfills (one digest
each, however Dagster split the backfill into runs)."""

from __future__ import annotations

from datetime import date

import dagster as dg
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus

from bamboo_assets.assets import digest_email
from bamboo_assets.assets.run import BACKFILL_TAG
from bamboo_assets.core.alerts import failure_alert
from bamboo_assets.core.rows import FailedCheck, failed_check
from bamboo_assets.dashboard.resource import Dashboard
from bamboo_assets.resources.mail import Mailer
from bamboo_assets.settings import Settings
from bamboo_assets.warehouse import ledger
from bamboo_assets.warehouse.connection import Warehouse

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
PARTITION = "dagster/partition"
FINISHED = [
    BulkActionStatus.COMPLETED_SUCCESS,
    BulkActionStatus.COMPLETED_FAILED,
    BulkActionStatus.FAILED,
    BulkActionStatus.CANCELED,
]


def run_partitions(tags: dict[str, str]) -> str:
    """The partition or range a run was for, from its tags."""
    if RANGE_START in tags:
        return f"{tags[RANGE_START]}...{tags[RANGE_END]}"
    return tags.get(PARTITION, "no partition")


def run_days(tags: dict[str, str]) -> list[date]:
    """Every day a run was for, from its tags."""
    if RANGE_START in tags:
        first, last = date.fromisoformat(tags[RANGE_START]), date.fromisoformat(tags[RANGE_END])
        return [date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1)]
    return [date.fromisoformat(tags[PARTITION])] if PARTITION in tags else []


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="E-mails one alert per failed run: the run, its partitions, the error, and "
    "what to do once the cause is fixed.",
)
def failed_run_alert(
    context: dg.RunFailureSensorContext, mailer: Mailer, settings: Settings
) -> None:
    run = context.dagster_run
    errors = [
        f"{event.step_key}: {event.event_specific_data.error.message.strip()}"
        for event in context.get_step_failure_events()
        if event.event_specific_data and event.event_specific_data.error
    ]
    subject, body = failure_alert(
        run_id=run.run_id,
        job=run.job_name,
        partitions=run_partitions(run.tags),
        error="\n".join(errors) or (context.failure_event.message or "unknown"),
        url=settings.run_url(run.run_id),
    )
    where = mailer.send(subject, body, log=context.log.warning)
    context.log.info(f"alert for run {run.run_id} sent: {where}")


@dg.sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="E-mails one digest per finished backfill that includes digest_email: every "
    "day of all its runs, its failed days and the checks that did not pass.",
)
def backfill_digest(
    context: dg.SensorEvaluationContext,
    warehouse: Warehouse,
    dashboard: Dashboard,
    mailer: Mailer,
) -> dg.SkipReason:
    """The cursor is the end time of the last backfill whose digest went out."""
    since = float(context.cursor or 0)
    finished = sorted(
        (
            backfill
            for backfill in context.instance.get_backfills(
                filters=BulkActionsFilter(statuses=FINISHED), limit=50
            )
            if (backfill.backfill_end_timestamp or 0) > since
        ),
        key=lambda backfill: backfill.backfill_end_timestamp,
    )
    sent = 0
    for backfill in finished:
        runs = context.instance.get_runs(
            filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill.backfill_id})
        )
        mailed = [run for run in runs if digest_email.SPEC.key in (run.asset_selection or ())]
        if mailed:
            _send_backfill_digest(
                context, backfill.backfill_id, mailed, warehouse, dashboard, mailer
            )
            sent += 1
        context.update_cursor(str(backfill.backfill_end_timestamp))
    return dg.SkipReason(f"{sent} backfill digests sent" if sent else "no backfill finished")


def _send_backfill_digest(
    context: dg.SensorEvaluationContext,
    backfill_id: str,
    runs: list[dg.DagsterRun],
    warehouse: Warehouse,
    dashboard: Dashboard,
    mailer: Mailer,
) -> None:
    days = sorted({day for run in runs for day in run_days(run.tags)})
    run_ids = [run.run_id for run in runs]
    with warehouse.connect() as conn:
        message = digest_email.compose(
            conn,
            days,
            ledger.backfill_failures(conn, backfill_id),
            [check for run_id in run_ids for check in _failed_checks(context.instance, run_id)],
            run_ids,
            dashboard.location(),
        )
    where = mailer.send(message.subject, message.text, log=context.log.warning, html=message.html)
    context.log.info(f"digest of backfill {backfill_id} sent: {where}")


def _failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[FailedCheck]:
    """The asset checks a run evaluated that did not pass, read from its events."""
    evaluations = [
        entry.dagster_event.event_specific_data
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]
    return [
        failed_check(
            evaluation.asset_key.to_user_string(),
            evaluation.check_name,
            evaluation.severity.value.lower(),
            evaluation.description,
            evaluation.metadata,
        )
        for evaluation in evaluations
        if not evaluation.passed
    ]
