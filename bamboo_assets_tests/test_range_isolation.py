"""A range of 20 days in which one day always answers 503 (issue 8, point 1): the other 19
reach public.solutions, daily_metrics and the dashboard, the run fails naming the bad day and
why, and the digest lists it beside the loaded ones. Once from the CLI (`dagster asset
materialize --partition-range`, as users and scripts/demo.py run it) and once as a backfill
launched through the webserver's GraphQL API and run by the daemon (the UI's path).
"""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from bamboo_assets.resources.warehouse import PostgresWarehouse
from bamboo_assets.schedules import RANGE_END, RANGE_START
from bamboo_assets_tests.dagster_processes import REPO, VENV_BIN, bamboo_env, wait_until
from bamboo_assets_tests.faults import Answers, error_text, failure_message, materialized
from bamboo_assets_tests.helpers import (
    ASSETS,
    LINEAGE,
    digests,
    fake_api_resources,
    query,
)
from bamboo_assets_tests.servers import FakeStatisticsApi, Reply
from bamboo_assets_tests.test_webserver import (  # noqa: F401 (webserver is a fixture)
    LOCAL_INSTANCE,
    Webserver,
    webserver,
)

KEY = "sk-range-5e1d"
FIRST, LAST = date(2025, 2, 1), date(2025, 2, 20)
BAD = date(2025, 2, 10)
DAYS = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
GOOD = [day for day in DAYS if day != BAD]


@pytest.fixture
def api() -> Iterator[FakeStatisticsApi]:
    with FakeStatisticsApi(Answers(), client_key=KEY) as server:
        server.fail_day(str(BAD), Reply(503, b'{"errors": "maintenance"}'))
        yield server


@pytest.fixture
def webserver_env(api: FakeStatisticsApi) -> dict[str, str]:
    """The real API client, pointed at the fake, with one retry."""
    return {
        "ITRESUME_URL": api.url,
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": KEY,
        "ITRESUME_RETRIES": "1",
    }


def the_bad_day_says(api: FakeStatisticsApi) -> str:
    return (
        f"{BAD}: statistics API {api.url} (client acme) answered HTTP 503 for {BAD} after 2 tries"
        " (at raw_attempts)"
    )


def assert_the_good_days_loaded(database_dsn: str, home: Path) -> None:
    """The 19 good days, and only they, in every table and in the dashboard."""
    loaded = query(
        database_dsn, "SELECT DISTINCT created_at::date FROM public.solutions ORDER BY 1"
    )
    assert [day for (day,) in loaded] == GOOD
    measured = query(database_dsn, "SELECT study_date FROM public.daily_metrics ORDER BY 1")
    assert [day for (day,) in measured] == GOOD
    with (home / "dashboard.csv").open(newline="") as sheet:
        rows = list(csv.reader(sheet))
    assert [row[0] for row in rows[1:]] == [str(day) for day in GOOD]


def assert_the_digest_lists_the_bad_day(home: Path, api: FakeStatisticsApi) -> None:
    (digest,) = [text for text in digests(home) if text.startswith("Subject: Bamboo digest")]
    assert f"Subject: Bamboo digest: {FIRST} to {LAST} (19 days), 1 failed" in digest
    assert "finished with 1 failed day (below)" in digest
    assert "Days that failed (1), nothing loaded for them:" in digest
    assert (
        f"    {BAD} at raw_attempts: statistics API {api.url} (client acme) answered HTTP 503"
        in digest
    )
    assert "Per day (change since the same weekday a week earlier):" in digest
    assert f"    {BAD}:" not in digest.split("Days that failed")[0]


def test_a_cli_range_with_one_failing_day_loads_the_other_19_and_fails_naming_it(
    api: FakeStatisticsApi,
    webserver_env: dict[str, str],
    database_dsn: str,
    bamboo_home: Path,
    tmp_path: Path,
) -> None:
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    env = bamboo_env(bamboo_home, database_dsn, dagster_home) | webserver_env
    done = subprocess.run(
        [str(VENV_BIN / "dagster"), "asset", "materialize", "-m", "bamboo_assets.definitions"]
        + ["--select", "*", "--partition-range", f"{FIRST}...{LAST}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode != 0
    assert_the_good_days_loaded(database_dsn, bamboo_home)
    assert_the_digest_lists_the_bad_day(bamboo_home, api)

    # What the UI shows of that run: failed at its last step, naming the day and why.
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.FAILURE
    failures = {
        entry.dagster_event.step_key: error_text(entry.dagster_event.step_failure_data.error)
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    }
    assert list(failures) == ["digest_email"]
    message = failures["digest_email"]
    assert (
        "1 of 20 days failed; nothing was loaded for them; the other 19 went through every "
        "step of the run." in message
    )
    assert the_bad_day_says(api) in message
    assert "Materialize the failed days again once the cause is fixed." in message

    # raw_attempts' asset page: the day's answer marked failed, with the reason.
    events = instance.fetch_materializations(dg.AssetKey("raw_attempts"), limit=1).records
    table = events[0].asset_materialization.metadata["per_day"].value
    answers = {row.data["day"]: (row.data["answer"], row.data["reason"]) for row in table.records}
    assert answers[str(BAD)][0] == "failed" and "HTTP 503" in answers[str(BAD)][1]
    assert {answers[str(day)][0] for day in GOOD} == {"fetched"}


LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
  }
}
"""

BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      runs { runId status stepStats { stepKey status } }
    }
  }
}
"""

FINISHED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def test_a_ui_backfill_run_by_the_daemon_loads_the_19_good_days_and_fails_naming_the_bad_one(
    webserver: Webserver,  # noqa: F811 (the fixture)
    api: FakeStatisticsApi,
    database_dsn: str,
    tmp_path: Path,
) -> None:
    home = tmp_path / "bamboo"  # the webserver fixture's BAMBOO_HOME
    # The UI's "Materialize" of the group for a range of partitions: one asset backfill.
    launched = webserver.graphql(
        LAUNCH_BACKFILL,
        params={
            "assetSelection": [{"path": [name]} for name in LINEAGE],
            "partitionNames": [str(day) for day in DAYS],
        },
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched

    def backfill() -> dict[str, Any]:
        return webserver.graphql(BACKFILL, id=launched["backfillId"])["partitionBackfillOrError"]

    wait_until(
        lambda: backfill()["status"] in FINISHED_BACKFILL, 240, "the backfill", webserver.processes
    )
    finished = backfill()
    (run,) = finished["runs"]  # BackfillPolicy.single_run(): the range is one run
    assert run["status"] == "FAILURE"
    steps = {step["stepKey"]: step["status"] for step in run["stepStats"]}
    assert steps == {name: "SUCCESS" for name in LINEAGE[:-1]} | {"digest_email": "FAILURE"}
    assert_the_good_days_loaded(database_dsn, home)
    assert_the_digest_lists_the_bad_day(home, api)

    instance_home = tmp_path / "dagster"
    assert (instance_home / "dagster.yaml").read_text() == LOCAL_INSTANCE.read_text()
    instance = dg.DagsterInstance.from_config(str(instance_home))
    (failure,) = instance.all_logs(run["runId"], of_type=dg.DagsterEventType.STEP_FAILURE)
    assert the_bad_day_says(api) in error_text(failure.dagster_event.step_failure_data.error)
    # The daemon's failure alert (sensor failed_run_alert) names it too.
    wait_until(
        lambda: any("Bamboo run failed" in text for text in digests(home)),
        60,
        "the failure alert",
        webserver.processes,
    )
    (alert,) = [text for text in digests(home) if "Bamboo run failed" in text]
    assert f"{BAD}: statistics API" in alert


def test_a_run_of_the_first_steps_only_fails_at_its_own_last_step_naming_the_bad_day(
    api: FakeStatisticsApi, bamboo_home: Path, warehouse: PostgresWarehouse, database_dsn: str
) -> None:
    # As `--select raw_attempts validated_attempts` runs it: a subset of the job of every asset.
    defs = dg.Definitions(
        assets=ASSETS, resources=fake_api_resources(bamboo_home, warehouse, api.url, KEY)
    )
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[dg.AssetKey("raw_attempts"), dg.AssetKey("validated_attempts")],
        tags={RANGE_START: str(FIRST), RANGE_END: str(LAST)},
        raise_on_error=False,
    )

    assert not result.success
    assert materialized(result) == {"raw_attempts"}
    assert the_bad_day_says(api) in failure_message(result, "validated_attempts")
    validated = query(database_dsn, "SELECT day FROM bamboo.day_loads ORDER BY day")
    assert [day for (day,) in validated] == GOOD
