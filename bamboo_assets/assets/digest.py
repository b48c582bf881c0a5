"""The digest e-mail: the notebook's counts for the days of the run, sent inside the run."""

import dagster as dg

from bamboo_assets import sql
from bamboo_assets.assets import run_days
from bamboo_assets.assets.common import daily_asset
from bamboo_assets.assets.dashboard import dashboard_sheet
from bamboo_assets.messages import day_problems, digest
from bamboo_assets.resources.dashboard import Dashboard
from bamboo_assets.resources.mail import Mailer
from bamboo_assets.resources.warehouse import Warehouse


@daily_asset(
    kinds={"email"},
    deps=[dashboard_sheet],
)
def digest_email(
    context: dg.AssetExecutionContext, warehouse: Warehouse, dashboard: Dashboard, mailer: Mailer
) -> dg.MaterializeResult:
    """The digest sent to DIGEST_RECIPIENTS once the dashboard is up to date.

    It lists the run's failed days beside the loaded ones, and the days fetched again with
    their late records. It is the last step, so a mail failure never undoes or blocks the
    data: the data assets stay materialized, this step fails visibly (after the mailer's own
    retries) and can be re-executed alone.
    """
    with warehouse.connect() as conn:
        days, earlier = run_days.remaining(context, conn)
        loads = conn.execute(sql.DAY_LOADS, (days,)).fetchall()
        failures = conn.execute(sql.DIGEST_FAILURES, (run_days.run_key(context),)).fetchall()
        refetched = conn.execute(sql.DIGEST_REFETCHED, (run_days.run_key(context),)).fetchall()
    problems = day_problems(failures, refetched)
    subject, body = digest(loads, dashboard.location(), problems, len(failures))
    where = mailer.send(subject, body, log=context.log.warning)
    context.log.info(f"digest sent: {where}")
    run_days.conclude(context, earlier)
    return dg.MaterializeResult(
        metadata={
            "subject": subject,
            "sent_to": where,
            "body": dg.MetadataValue.md(f"```\n{body}```"),
        }
    )
