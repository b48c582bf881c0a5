"""Failure alerts through Bamboo's own mailer (plain, STARTTLS or SSL SMTP, or the outbox)."""

import dagster as dg

from bamboo_assets.messages import failure_alert
from bamboo_assets.resources.mail import Mailer
from bamboo_assets.schedules import RANGE_END, RANGE_START
from bamboo_assets.settings import PipelineSettings


def failed_partitions(tags: dict[str, str]) -> str:
    """The partition or range a run was for, from its tags."""
    if RANGE_START in tags:
        return f"{tags[RANGE_START]}...{tags[RANGE_END]}"
    return tags.get("dagster/partition", "no partition")


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="E-mails one alert per failed run: the run, its partitions and the error.",
)
def failed_run_alert(
    context: dg.RunFailureSensorContext, mailer: Mailer, pipeline_settings: PipelineSettings
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
        partitions=failed_partitions(run.tags),
        error="\n".join(errors) or (context.failure_event.message or "unknown"),
        url=pipeline_settings.run_url(run.run_id),
    )
    where = mailer.send(subject, body, log=context.log.warning)
    context.log.info(f"alert for run {run.run_id} sent: {where}")
