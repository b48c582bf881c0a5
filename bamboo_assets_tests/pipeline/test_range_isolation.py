"""A range of 20 days in which one day always answers 503: the other 19 reach public.solutions,
daily_metrics and the dashboard, the run fails naming the bad day and why, and the digest
lists it beside the loaded ones. From the CLI (`dagster asset materialize --partition-range`,
as users and scripts/demo.py run it); the same range as a backfill launched from the UI is in
test_ui_backfill.py.
"""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from bamboo_assets_tests.servers import FakeStatisticsApi, Reply
from bamboo_assets_tests.support.bamboo import (
    LINEAGE,
    Bamboo,
    digests,
    partition_view,
    query,
)
from bamboo_assets_tests.support.dagster_processes import REPO, VENV_BIN, bamboo_env
from bamboo_assets_tests.support.faults import (
    Answers,
    error_text,
    failure_message,
    materialized,
)

KEY = "sk-range-5e1d"
FIRST, LAST = date(2025, 2, 1), date(2025, 2, 20)
BAD = date(2025, 2, 10)
DAYS = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
GOOD = [day for day in DAYS if day != BAD]


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
    """One digest for the whole range: the day not loaded said first, then in the per-day
    table (with no figures) and among the failed days with its reason."""
    (digest,) = [text for text in digests(home) if text.startswith("Subject: Bamboo digest")]
    subject, first_line = digest.splitlines()[:2]
    assert subject == f"Subject: Bamboo digest: {FIRST} to {LAST} (20 days), 1 not loaded"
    assert first_line == f"Not loaded: 1 of 20 days holds no data: {BAD}."
    assert "finished with 1 failed day (below)" in digest
    assert "Days that failed (1), nothing loaded for them:" in digest
    assert (
        f"    {BAD} at raw_attempts: statistics API {api.url} (client acme) answered HTTP 503"
        in digest
    )
    table = digest[digest.index("Per day (change since the same weekday a week earlier):") :]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[2:22]}
    assert list(rows) == [str(day) for day in DAYS]
    assert rows[str(BAD)] == ["-", "-", "-", "-", "not", "loaded"]
    assert all(rows[str(day)][0] != "-" for day in GOOD)


@pytest.fixture
def api() -> Iterator[FakeStatisticsApi]:
    """The API, answering 503 for BAD whatever the try."""
    with FakeStatisticsApi(Answers(), client_key=KEY) as server:
        server.fail_day(str(BAD), Reply(503, b'{"errors": "maintenance"}'))
        yield server


@pytest.mark.slow
def test_a_cli_range_with_one_failing_day_loads_the_other_19_and_fails_naming_it(
    api: FakeStatisticsApi, database_dsn: str, bamboo_home: Path, tmp_path: Path
) -> None:
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    env = bamboo_env(bamboo_home, database_dsn, dagster_home) | {
        "ITRESUME_URL": api.url,
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": KEY,
        "ITRESUME_RETRIES": "1",
    }
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

    # What the UI shows of that run: its one step failed, naming the day, why, and what to do.
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.FAILURE
    failures = {
        entry.dagster_event.step_key: error_text(entry.dagster_event.step_failure_data.error)
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    }
    assert list(failures) == ["bamboo_pipeline"]
    message = failures["bamboo_pipeline"]
    assert (
        "1 of 20 days failed; nothing was loaded for them; the other 19 went through every "
        "step of the run." in message
    )
    assert the_bad_day_says(api) in message
    assert (
        "Once the cause is fixed, backfill the failed and missing partitions: in the Dagster "
        "UI, Assets, group bamboo, Materialize, choose 'Failed and missing', then Launch "
        f"backfill. From a shell: dagster asset materialize -m bamboo_assets.definitions "
        f"--select '*' --partition {BAD}" in message
    )

    # The asset pages: every asset materialized for the 19 days, each with its own metadata,
    # and failed for the bad day.
    shown = partition_view(instance, dg.DailyPartitionsDefinition(start_date="2024-01-01"))
    good = [str(day) for day in GOOD]
    assert shown == {name: {"materialized": good, "failed": [str(BAD)]} for name in LINEAGE}
    records = instance.fetch_materializations(dg.AssetKey("raw_attempts"), limit=100).records
    answers = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert sorted(answers) == good
    assert {meta["answer"].value for meta in answers.values()} == {"fetched"}
    instance.dispose()


def test_a_run_of_the_first_steps_only_fails_naming_the_bad_day_and_keeps_the_others(
    configure: Callable[..., Bamboo], api: FakeStatisticsApi, database_dsn: str
) -> None:
    # As `--select raw_attempts validated_attempts` runs it: a subset of the job of every asset.
    bamboo = configure(ITRESUME_CLIENT_KEY=KEY)
    first, last = BAD - timedelta(days=2), BAD + timedelta(days=2)
    good = [str(first + timedelta(days=n)) for n in range(5) if n != 2]

    result = bamboo.run(str(first), str(last), select=["raw_attempts", "validated_attempts"])

    assert not result.success
    assert materialized(result) == {"raw_attempts", "validated_attempts"}
    message = failure_message(result, "bamboo_pipeline")
    assert "1 of 5 days failed; nothing was loaded for them; the other 4 went through" in message
    assert the_bad_day_says(api) in message
    validated = query(database_dsn, "SELECT day::text FROM bamboo.day_loads ORDER BY day")
    assert [day for (day,) in validated] == good
    view = bamboo.partition_view()
    for name in ("raw_attempts", "validated_attempts"):
        assert view[name] == {"materialized": good, "failed": [str(BAD)]}
    assert view["solutions_table"] == {"materialized": [], "failed": []}  # not selected
