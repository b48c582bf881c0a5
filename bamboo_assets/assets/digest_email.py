"""digest_email: the digest people read, sent once for a run, or once for a whole backfill."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import dagster as dg
import psycopg

from bamboo_assets.assets import dashboard_sheet
from bamboo_assets.assets.run import DaysRun, StepResult
from bamboo_assets.core.digest import Digest, digest
from bamboo_assets.core.ledger import DayFailure
from bamboo_assets.core.rows import FailedCheck
from bamboo_assets.warehouse import reports

SPEC = dg.AssetSpec(
    "digest_email",
    description=(
        "The digest sent to DIGEST_RECIPIENTS once the dashboard is up to date: for each day of "
        "the range the four metrics against the same weekday a week earlier and the rejected "
        "share, then the checks that did not pass, the failed days and why, the days fetched "
        "again, and the notebook's counts; plain text with an HTML alternative. A day of the "
        "range with no data loaded is named in the subject and the first line. A run sends one "
        "digest for its range; a backfill, however Dagster splits it into runs, one digest "
        "when it completes (sensor `backfill_digest`). It is the last step, so a mail failure "
        "never undoes the data."
    ),
    deps=[dashboard_sheet.SPEC.key],
    kinds={"email"},
    skippable=True,
)


def compose(
    conn: psycopg.Connection,
    days: Sequence[date],
    failures: Sequence[DayFailure],
    failed_checks: Sequence[FailedCheck],
    run_ids: Sequence[str],
    dashboard: str,
) -> Digest:
    """The digest of `days` as the warehouse holds them now."""
    compared = sorted(set(days) | {day - timedelta(days=7) for day in days})
    return digest(
        [str(day) for day in days],
        reports.day_loads(conn, days),
        reports.metrics_of(conn, compared),
        failed_checks,
        dashboard,
        failed_days=failures,
        refetched=reports.refetched(conn, run_ids),
    )


def run(days_run: DaysRun) -> StepResult:
    """Send the run's digest, or leave it to the backfill's when the run is part of one."""
    if days_run.backfill_id:
        note = (
            f"sent with the digest of backfill {days_run.backfill_id} when it completes "
            "(sensor backfill_digest)"
        )
        return StepResult(per_day={day: {"digest": note} for day in days_run.ledger.remaining()})
    ledger = days_run.ledger
    message = compose(
        days_run.conn,
        ledger.days,
        ledger.failures,
        days_run.failed_checks,
        [days_run.run_id],
        days_run.dashboard.location(),
    )
    where = days_run.mailer.send(
        message.subject, message.text, log=days_run.log.warning, html=message.html
    )
    days_run.log.info(f"digest sent: {where}")
    return StepResult(
        per_day={day: {"digest": "sent"} for day in ledger.remaining()},
        shared={
            "subject": message.subject,
            "sent_to": where,
            "body": dg.MetadataValue.md(f"```\n{message.text}```"),
        },
    )
