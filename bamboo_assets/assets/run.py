"""What every step of a run shares: its days (the ledger), its resources, one warehouse
connection, and what each step reports back."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import dagster as dg
import psycopg

from bamboo_assets.core.ledger import DayLedger
from bamboo_assets.core.rows import FailedCheck, failed_check
from bamboo_assets.dashboard.resource import Dashboard
from bamboo_assets.resources.mail import Mailer
from bamboo_assets.resources.raw_answers import RawAnswerStore
from bamboo_assets.resources.statistics_api import StatisticsApi
from bamboo_assets.settings import Settings
from bamboo_assets.warehouse.connection import Warehouse

BACKFILL_TAG = "dagster/backfill"
RESUME_TAG = ".dagster/is_resume_retry"


@dataclass
class StepResult:
    """What a step did: metadata for each day it did, for all of them, and its checks."""

    per_day: dict[date, dict[str, Any]] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)
    checks: list[dg.AssetCheckResult] = field(default_factory=list)


@dataclass
class DaysRun:
    """One run of the pipeline over its days."""

    ledger: DayLedger
    log: dg.DagsterLogManager
    settings: Settings
    statistics_api: StatisticsApi
    raw_answers: RawAnswerStore
    warehouse: Warehouse
    dashboard: Dashboard
    mailer: Mailer
    run_id: str
    root_run_id: str
    backfill_id: str | None
    refetch: bool
    failed_checks: list[FailedCheck] = field(default_factory=list)
    _exits: ExitStack = field(default_factory=ExitStack)
    _conn: psycopg.Connection | None = None

    @property
    def conn(self) -> psycopg.Connection:
        """The run's warehouse connection, opened on first use (and the schema made current)."""
        if self._conn is None:
            self._conn = self._exits.enter_context(self.warehouse.connect())
        return self._conn

    def close(self) -> None:
        self._exits.close()

    def explain(self, error: Exception) -> Exception:
        """The error a step raised, or, when it lost the run's warehouse connection, one that
        names the warehouse and says that the step's uncommitted work was rolled back."""
        if isinstance(error, psycopg.OperationalError) and self._conn and self._conn.broken:
            return self.warehouse.connection_lost(error, "the step's uncommitted work")
        return error

    def note_checks(self, results: list[dg.AssetCheckResult]) -> None:
        """Keep the checks that did not pass, for the digest."""
        self.failed_checks += [
            failed_check(
                result.asset_key.to_user_string(),
                result.check_name,
                result.severity.value.lower(),
                result.description,
                result.metadata,
            )
            for result in results
            if not result.passed
        ]


def days_of(context: dg.AssetExecutionContext) -> list[date]:
    """The days this run materializes (one, or a range)."""
    return [date.fromisoformat(key) for key in context.partition_keys]


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> dg.MetadataValue:
    """A small table for the asset page, rendered by Dagster (`MetadataValue.table`)."""
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord({name: _cell(row.get(name)) for name, _ in columns}) for row in rows
        ],
        schema=dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns]),
    )


def _cell(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return value.isoformat(sep=" ") if hasattr(value, "hour") else str(value)
