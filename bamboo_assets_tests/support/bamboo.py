"""Running Bamboo in tests the way a deployment runs it: settings from the environment, the
definitions built from them, a range of days as one run, and what the UI then shows."""

from __future__ import annotations

import email
import email.policy
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

from bamboo_assets.definitions import build_definitions
from bamboo_assets.resources.raw_answers import read_answer
from bamboo_assets.settings import Settings
from bamboo_assets.warehouse.reports import ALL_METRICS

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
# What users must see, written out rather than read from the code under test.
LINEAGE = [
    "raw_attempts",
    "validated_attempts",
    "solutions_table",
    "daily_metrics",
    "dashboard_sheet",
    "digest_email",
]
# The notebook's own metrics query over the whole table: the reference Bamboo must equal.
NOTEBOOK_METRICS = """
WITH first_seen AS (
    SELECT min(date(created_at)) AS study_date, user_id FROM public.solutions GROUP BY user_id
), new_users AS (
    SELECT study_date, count(user_id) AS new_users_cnt FROM first_seen GROUP BY study_date
), solutions_metrics AS (
    SELECT date(created_at) AS study_date, count(*) AS attempts_per_day_total,
        count(*) FILTER (WHERE is_correct = 1) AS correct_attempts_per_day,
        count(DISTINCT user_id) AS unique_users_per_day
    FROM public.solutions GROUP BY study_date
)
SELECT to_char(sm.study_date, 'yyyy-mm-dd') AS study_date, attempts_per_day_total,
    correct_attempts_per_day, unique_users_per_day, COALESCE(nu.new_users_cnt, 0)
FROM solutions_metrics sm LEFT JOIN new_users nu USING (study_date)
ORDER BY study_date
"""


def days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [str(start + timedelta(days=n)) for n in range((end - start).days + 1)]


@dataclass
class Bamboo:
    """Bamboo as `env` configures it (set in the process environment, as a deployment does),
    with a Dagster instance of its own that keeps every run's events."""

    settings: Settings
    defs: dg.Definitions
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)

    @classmethod
    def from_env(cls, monkeypatch, **env: str) -> Bamboo:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings.from_env(os.environ)
        return cls(settings, build_definitions(settings))

    def run(
        self,
        first: str,
        last: str | None = None,
        select: list[str] | None = None,
        tags: dict[str, str] | None = None,
        run_config: dict | None = None,
    ) -> dg.ExecuteInProcessResult:
        """One run over `first`..`last`, as the CLI's --partition-range or a backfill runs it."""
        job = self.defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(
            asset_selection=[dg.AssetKey(name) for name in select] if select else None,
            tags={RANGE_START: first, RANGE_END: last or first, **(tags or {})},
            run_config=run_config,
            instance=self.instance,
            raise_on_error=False,
        )

    def partition_view(self) -> dict[str, dict[str, list[str]]]:
        """What the UI's partition view shows per asset: materialized and failed days (a day
        both materialized earlier and failed since shows as failed, as in the UI)."""
        partitions = self.defs.resolve_asset_graph().get(dg.AssetKey("raw_attempts")).partitions_def
        view = {}
        for name in LINEAGE:
            status = get_and_update_asset_status_cache_value(
                self.instance, dg.AssetKey(name), partitions
            )
            if status is None:
                view[name] = {"materialized": [], "failed": []}
                continue
            failed = set(status.deserialize_failed_partition_subsets(partitions).get_partition_keys())
            done = status.deserialize_materialized_partition_subsets(partitions).get_partition_keys()
            view[name] = {
                "materialized": sorted(set(done) - failed),
                "failed": sorted(failed),
            }
        return view


def digests(home: Path) -> list[str]:
    """The e-mails in the outbox, oldest first: subject line, then the body as read."""
    texts = []
    for path in sorted((home / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",)).get_content()
        texts.append(f"Subject: {message['Subject']}\n{body}")
    return texts


def query(dsn: str, statement: str, params: tuple | dict = ()) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params).fetchall()


def stored_metrics(dsn: str) -> list[tuple]:
    return query(dsn, ALL_METRICS)


def notebook_metrics(dsn: str) -> list[tuple]:
    """The notebook's own query over the whole table."""
    return query(dsn, NOTEBOOK_METRICS)


def loaded_days(dsn: str) -> list[str]:
    rows = query(dsn, "SELECT DISTINCT created_at::date::text FROM public.solutions ORDER BY 1")
    return [day for (day,) in rows]


def stored_answer(path: Path) -> bytes:
    """A stored raw answer as the API sent it (the store keeps it zstd-compressed)."""
    with read_answer(path) as answer:
        return answer.read()
