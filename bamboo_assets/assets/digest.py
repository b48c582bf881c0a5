"""The digest e-mail: each day's metrics and their trend, the checks that did not pass, and the
notebook's counts for the days of the run, sent inside the run."""

from datetime import timedelta

import dagster as dg

from bamboo_assets import sql
from bamboo_assets.assets import run_days
from bamboo_assets.assets.common import daily_asset
from bamboo_assets.assets.dashboard import dashboard_sheet
from bamboo_assets.messages import DayFailure, DayLoad, DayMetrics, FailedCheck, Refetched, digest
from bamboo_assets.resources.dashboard import Dashboard
from bamboo_assets.resources.mail import Mailer
from bamboo_assets.resources.warehouse import Warehouse


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[FailedCheck]:
    """The asset checks this run evaluated and that did not pass, read from the run's events
    so that every check shows up, whoever added it."""
    failed = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if evaluation.passed:
            continue
        details = "; ".join(
            f"{name}: {str(value.value)[:80]}"
            for name, value in list(evaluation.metadata.items())[:3]
        )
        failed.append(
            FailedCheck(
                evaluation.asset_key.to_user_string(),
                evaluation.check_name,
                evaluation.severity.value.lower(),
                evaluation.description or details,
            )
        )
    return failed


@daily_asset(
    kinds={"email"},
    deps=[dashboard_sheet],
)
def digest_email(
    context: dg.AssetExecutionContext, warehouse: Warehouse, dashboard: Dashboard, mailer: Mailer
) -> dg.MaterializeResult:
    """The digest sent to DIGEST_RECIPIENTS once the dashboard is up to date: for each day the
    four metrics against the same weekday a week earlier, the rejected share, the checks that
    did not pass, then the notebook's counts; plain text with an HTML alternative.

    It lists the run's failed days beside the loaded ones, and the days fetched again with
    their late records. It is the last step, so a mail failure never undoes or blocks the
    data: the data assets stay materialized, this step fails visibly (after the mailer's own
    retries) and can be re-executed alone.
    """
    with warehouse.connect() as conn:
        days, earlier = run_days.remaining(context, conn)
        compared = sorted(set(days) | {day - timedelta(days=7) for day in days})
        run = run_days.run_key(context)
        loads = [DayLoad(*row) for row in conn.execute(sql.DAY_LOADS, (days,))]
        metrics = [DayMetrics(*row) for row in conn.execute(sql.METRICS_OF_DAYS, (compared,))]
        failures = [DayFailure(*row) for row in conn.execute(sql.DIGEST_FAILURES, (run,))]
        refetched = [Refetched(*row) for row in conn.execute(sql.DIGEST_REFETCHED, (run,))]
    message = digest(
        [str(day) for day in days],
        loads,
        metrics,
        failed_checks(context.instance, context.run_id),
        dashboard.location(),
        failed_days=failures,
        refetched=refetched,
    )
    where = mailer.send(message.subject, message.text, log=context.log.warning, html=message.html)
    context.log.info(f"digest sent: {where}")
    run_days.conclude(context, earlier)
    return dg.MaterializeResult(
        metadata={
            "subject": message.subject,
            "sent_to": where,
            "body": dg.MetadataValue.md(f"```\n{message.text}```"),
        }
    )
