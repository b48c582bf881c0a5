"""Running Bamboo in tests the way a deployment runs it: settings from the environment, the
definitions built from them, a range of days as one run, and what the UI then shows."""

from __future__ import annotations

import email
import email.policy
import os
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import dagster as dg
import psycopg
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

from bamboo_assets.definitions import build_definitions
from bamboo_assets.resources.raw_answers import read_answer
from bamboo_assets.settings import Settings
from bamboo_assets.warehouse.reports import ALL_METRICS

R = TypeVar("R", bound=dg.ConfigurableResource)
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
# The dashboard's header row, the notebook's metric names.
HEADER = [
    "study_date",
    "attempts_per_day_total",
    "correct_attempts_per_day",
    "unique_users_per_day",
    "new_users_per_day",
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


def production_env(tmp_path: Path) -> dict[str, str]:
    """Every outside system configured, as production needs."""
    key_file = tmp_path / "sa.json"
    key_file.write_text("{}")
    return {
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": "k-7d1f",
        "BAMBOO_DB_DSN": "postgresql://etl:pw-51ab@db.example.org/bamboo",
        "GOOGLE_SERVICE_ACCOUNT_FILE": str(key_file),
        "DASHBOARD_SPREADSHEET_ID": "sheet-id",
        "SMTP_HOST": "smtp.example.org",
        "DIGEST_SENDER": "etl@example.org",
        "DIGEST_RECIPIENTS": "team@example.org",
    }


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

    def reconfigured(self, monkeypatch, **env: str) -> Bamboo:
        """The same deployment (its Dagster instance, its runs) after `env` changed, as an
        operator changes a variable and restarts the code location."""
        changed = Bamboo.from_env(monkeypatch, **env)
        return replace(changed, instance=self.instance)

    def with_resources(self, **resources: dg.ConfigurableResource) -> Bamboo:
        """The same deployment with some resources replaced: only where a test needs what no
        setting offers (a backoff of milliseconds instead of seconds)."""
        defs = self.defs
        rebuilt = dg.Definitions(
            assets=defs.assets,
            schedules=defs.schedules,
            sensors=defs.sensors,
            jobs=defs.jobs,
            resources={**defs.resources, **resources},
            executor=defs.executor,
        )
        return replace(self, defs=rebuilt)

    def resource(self, name: str) -> dg.ConfigurableResource:
        """The resource the settings chose for `name` (as the definitions hold it)."""
        return self.defs.resources[name]

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

    def alert(self, result: dg.ExecuteInProcessResult) -> None:
        """Evaluate the sensor failed_run_alert on `result`'s failed run, as the daemon does."""
        (failure,) = [
            event
            for event in result.all_events
            if event.event_type == dg.DagsterEventType.RUN_FAILURE
        ]
        context = dg.build_run_status_sensor_context(
            sensor_name="failed_run_alert",
            dagster_event=failure,
            dagster_instance=self.instance,
            dagster_run=self.instance.get_run_by_id(result.run_id),
            resources={name: self.resource(name) for name in ("mailer", "settings")},
        ).for_run_failure()
        self.defs.resolve_sensor_def("failed_run_alert")(context)

    def run_day(
        self, day: str, select: list[str] | None = None, tags: dict[str, str] | None = None
    ) -> dg.ExecuteInProcessResult:
        """One run of a single partition, as the UI's "Materialize" of one day launches it
        (tag dagster/partition, not a range)."""
        job = self.defs.resolve_implicit_global_asset_job_def()
        return job.execute_in_process(
            asset_selection=[dg.AssetKey(name) for name in select] if select else None,
            partition_key=day,
            tags=tags,
            instance=self.instance,
            raise_on_error=False,
        )

    def partitions(self) -> dg.PartitionsDefinition:
        return self.defs.resolve_asset_graph().get(dg.AssetKey("raw_attempts")).partitions_def

    def partition_view(self) -> dict[str, dict[str, list[str]]]:
        """What the UI's partition view shows per asset: materialized and failed days (a day
        both materialized earlier and failed since shows as failed, as in the UI)."""
        return partition_view(self.instance, self.partitions())


def partition_view(
    instance: dg.DagsterInstance, partitions: dg.PartitionsDefinition
) -> dict[str, dict[str, list[str]]]:
    """What the UI's partition view of `instance` shows per asset: materialized, failed days."""
    view = {}
    for name in LINEAGE:
        status = get_and_update_asset_status_cache_value(instance, dg.AssetKey(name), partitions)
        if status is None:
            view[name] = {"materialized": [], "failed": []}
            continue
        failed = set(status.deserialize_failed_partition_subsets(partitions).get_partition_keys())
        done = status.deserialize_materialized_partition_subsets(partitions).get_partition_keys()
        view[name] = {"materialized": sorted(set(done) - failed), "failed": sorted(failed)}
    return view


def resource_with(resource: R, **changes: object) -> R:
    """A new `resource` like `resource` but for `changes` (Dagster configures a resource from
    what it was built with, so a copy of the object would keep the old values)."""
    fields = {name: getattr(resource, name) for name in type(resource).model_fields}
    return type(resource)(**(fields | changes))


def day_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, dict[str, object]]:
    """What `asset`'s page shows of each day the run materialized: day → metadata values."""
    return {
        str(event.partition): {name: value.value for name, value in event.metadata.items()}
        for event in result.asset_materializations_for_node("bamboo_pipeline")
        if event.asset_key == dg.AssetKey(asset)
    }


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """The run's asset checks by name."""
    return {check.check_name: check for check in result.get_asset_check_evaluations()}


def digests(home: Path) -> list[str]:
    """The e-mails in the outbox, oldest first: subject line, then the body as read."""
    texts = []
    for path in sorted((home / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",)).get_content()
        # A long subject is folded onto the next line; unfolded, it keeps the fold's space,
        # which mail programs do not show.
        texts.append(f"Subject: {message['Subject'].lstrip()}\n{body}")
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
