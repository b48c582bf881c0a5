"""Running Bamboo's assets through Dagster in tests, the way a backfill runs them."""

from pathlib import Path

import dagster as dg
import psycopg

from bamboo_assets.assets import PIPELINE
from bamboo_assets.resources.dashboard import CsvDashboard
from bamboo_assets.resources.mail import OutboxMailer
from bamboo_assets.resources.raw_answers import RawAnswerStore, read_answer
from bamboo_assets.resources.statistics_api import SimulatedStatisticsApi
from bamboo_assets.schedules import RANGE_END, RANGE_START
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
    first: str, last: str, resources: dict, assets: list | None = None, **kwargs
) -> dg.ExecuteInProcessResult:
    """One run over the days `first`..`last`, as a single-run backfill does it."""
    return dg.materialize(
        assets or ASSETS,
        resources=resources,
        tags={RANGE_START: first, RANGE_END: last},
        raise_on_error=False,
        **kwargs,
    )


def local_resources(home: Path, warehouse, records_per_day: int = 300) -> dict:
    """Everything local except the warehouse the test hands in."""
    return {
        "statistics_api": SimulatedStatisticsApi(records_per_day=records_per_day),
        "raw_answers": RawAnswerStore(directory=str(home / "raw")),
        "warehouse": warehouse,
        "dashboard": CsvDashboard(path=str(home / "dashboard.csv")),
        "mailer": OutboxMailer(
            directory=str(home / "outbox"), sender="b@test", recipients="t@test"
        ),
    }


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
