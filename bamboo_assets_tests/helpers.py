"""Running Bamboo's assets through Dagster in tests, the way a backfill runs them."""

import email
import email.policy
from pathlib import Path

import dagster as dg
import psycopg

from bamboo_assets.assets import PIPELINE
from bamboo_assets.resources.dashboard import CsvDashboard
from bamboo_assets.resources.mail import OutboxMailer
from bamboo_assets.resources.raw_answers import RawAnswerStore, read_answer
from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi, SimulatedStatisticsApi
from bamboo_assets.schedules import RANGE_END, RANGE_START
from bamboo_assets.sensors import failed_run_alert
from bamboo_assets.settings import PipelineSettings
from bamboo_assets.sql import ALL_METRICS, NOTEBOOK_METRICS

ASSETS = PIPELINE
# What users must see, written out rather than read from the code under test.
LINEAGE = [
    "raw_attempts",
    "validated_attempts",
    "solutions_table",
    "daily_metrics",
    "dashboard_sheet",
    "digest_email",
]


def materialize_days(
    first: str,
    last: str,
    resources: dict,
    assets: list | None = None,
    tags: dict[str, str] | None = None,
    **kwargs,
) -> dg.ExecuteInProcessResult:
    """One run over the days `first`..`last`, as a single-run backfill does it."""
    return dg.materialize(
        assets or ASSETS,
        resources=resources,
        tags={RANGE_START: first, RANGE_END: last, **(tags or {})},
        raise_on_error=False,
        **kwargs,
    )


def local_resources(home: Path, warehouse, records_per_day: int = 300) -> dict:
    """Everything local except the warehouse the test hands in."""
    return {
        "pipeline_settings": PipelineSettings(),
        "statistics_api": SimulatedStatisticsApi(records_per_day=records_per_day),
        "raw_answers": RawAnswerStore(directory=str(home / "raw")),
        "warehouse": warehouse,
        "dashboard": CsvDashboard(path=str(home / "dashboard.csv")),
        "mailer": OutboxMailer(
            directory=str(home / "outbox"), sender="b@test", recipients="t@test"
        ),
    }


def alert_failed_run(
    result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance, resources: dict
) -> None:
    """Evaluate the failure-alert sensor on `result`'s failed run, as the daemon would."""
    (failure,) = [
        event for event in result.all_events if event.event_type == dg.DagsterEventType.RUN_FAILURE
    ]
    context = dg.build_run_status_sensor_context(
        sensor_name="failed_run_alert",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        resources=resources,
    ).for_run_failure()
    failed_run_alert(context)


def fake_api_resources(home: Path, warehouse, url: str, client_key: str) -> dict:
    """local_resources with the real API client pointed at a fake server: one retry, no
    waiting between tries."""
    client = ItresumeStatisticsApi(
        url=url, client="acme", client_key=client_key, retries=1, backoff_seconds=0.01
    )
    return local_resources(home, warehouse) | {"statistics_api": client}


def digests(home: Path) -> list[str]:
    """The e-mails in the outbox, oldest first: subject line, then the body as read."""
    texts = []
    for path in sorted((home / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",)).get_content()
        texts.append(f"Subject: {message['Subject']}\n{body}")
    return texts


def query(dsn: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchall()


def stored_metrics(dsn: str) -> list[tuple]:
    return query(dsn, ALL_METRICS)


def notebook_metrics(dsn: str) -> list[tuple]:
    """The notebook's own query over the whole table."""
    return query(dsn, NOTEBOOK_METRICS)


def stored_answer(path: Path) -> bytes:
    """A stored raw answer as the API sent it (the store keeps it zstd-compressed)."""
    with read_answer(path) as answer:
        return answer.read()
