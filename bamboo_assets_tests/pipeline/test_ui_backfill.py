"""A backfill launched from the UI with one bad day, and the UI's own recovery: what users see
through the webserver's GraphQL API, with the daemon running the backfills and the sensors."""

import csv
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from bamboo_assets_tests.servers import FakeStatisticsApi, Reply
from bamboo_assets_tests.support.bamboo import LINEAGE, days, digests, loaded_days, query
from bamboo_assets_tests.support.dagster_processes import bamboo_env, wait_until
from bamboo_assets_tests.support.faults import Answers, error_text
from bamboo_assets_tests.support.ui import LOCAL_INSTANCE, Webserver, ui

pytestmark = pytest.mark.slow

KEY = "sk-ui-backfill-31aa"
WEEK = days("2025-02-01", "2025-02-07")
BAD = "2025-02-04"


@pytest.fixture
def api() -> Iterator[FakeStatisticsApi]:
    with FakeStatisticsApi(Answers(), client_key=KEY) as server:
        server.fail_day(BAD, Reply(503, b'{"errors": "maintenance"}'))
        yield server


@pytest.fixture
def webserver(api: FakeStatisticsApi, database_dsn: str, tmp_path: Path) -> Iterator[Webserver]:
    env = bamboo_env(tmp_path / "bamboo", database_dsn, tmp_path / "dagster") | {
        "ITRESUME_URL": api.url,
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": KEY,
        "ITRESUME_RETRIES": "0",
    }
    with ui(tmp_path, env) as server:
        yield server


def mail(home: Path, subject: str) -> list[str]:
    return [text for text in digests(home) if text.startswith(f"Subject: {subject}")]


def failed_and_missing(view: dict[str, dict[str, str]]) -> list[dict]:
    """What the UI's "Materialize, Failed and missing" selects: per asset, its days of the week
    that are not materialized."""
    return [
        {
            "assetKey": {"path": [asset]},
            "partitions": {"ranges": [{"start": day, "end": day} for day in sorted(shown)]},
        }
        for asset, statuses in view.items()
        if (shown := [day for day, status in statuses.items() if status != "MATERIALIZED"])
    ]


def test_a_backfill_with_a_bad_day_shows_the_truth_and_the_uis_recovery_completes_it(
    webserver: Webserver, api: FakeStatisticsApi, database_dsn: str, tmp_path: Path
) -> None:
    home = tmp_path / "bamboo"
    first = webserver.backfill(
        {"assetSelection": [{"path": [name]} for name in LINEAGE], "partitionNames": WEEK}
    )
    assert first["status"] == "COMPLETED_FAILED", first
    (run,) = first["runs"]  # a range is one run
    assert run["status"] == "FAILURE"

    # Each asset: the six good days materialized, the bad day failed; the digest is not red.
    view = webserver.partition_statuses(LINEAGE, WEEK)
    expected = {day: "FAILED" if day == BAD else "MATERIALIZED" for day in WEEK}
    assert view == {name: expected for name in LINEAGE}
    good = [day for day in WEEK if day != BAD]
    assert loaded_days(database_dsn) == good
    measured = query(database_dsn, "SELECT study_date::text FROM public.daily_metrics ORDER BY 1")
    assert [day for (day,) in measured] == good
    with (home / "dashboard.csv").open(newline="") as sheet:
        assert [row[0] for row in list(csv.reader(sheet))[1:]] == good

    # The run's failure names the day and why, on the instance made from the local file.
    dagster_home = tmp_path / "dagster"
    assert (dagster_home / "dagster.yaml").read_text() == LOCAL_INSTANCE.read_text()
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    (failure,) = instance.all_logs(run["runId"], of_type=dg.DagsterEventType.STEP_FAILURE)
    said = error_text(failure.dagster_event.step_failure_data.error)
    instance.dispose()
    assert failure.dagster_event.step_key == "bamboo_pipeline"
    assert f"{BAD}: statistics API {api.url} (client acme) answered HTTP 503" in said
    assert "1 of 7 days failed; nothing was loaded for them" in said

    # One alert for the failed run, one digest for the backfill, naming the hole first.
    wait_until(lambda: mail(home, "Bamboo digest"), 90, "the backfill's digest")
    wait_until(lambda: mail(home, "Bamboo run failed"), 60, "the failure alert")
    (digest,) = mail(home, "Bamboo digest")
    assert digest.splitlines()[:2] == [
        "Subject: Bamboo digest: 2025-02-01 to 2025-02-07 (7 days), 1 not loaded",
        f"Not loaded: 1 of 7 days holds no data: {BAD}.",
    ]
    assert "finished with 1 failed day (below)" in digest
    assert "Days that failed (1), nothing loaded for them:" in digest
    assert f"    {BAD} at raw_attempts: statistics API {api.url} (client acme)" in digest
    (alert,) = mail(home, "Bamboo run failed")
    assert "choose 'Failed and missing'" in alert and "Re-execute" not in alert
    assert f"{BAD}: statistics API" in alert

    # The API is healthy again; the user backfills the failed and missing partitions.
    api.fail_day(BAD, None)
    asked = len(api.requests)
    recovery = webserver.backfill({"partitionsByAssets": failed_and_missing(view)})

    assert recovery["status"] == "COMPLETED_SUCCESS", recovery
    assert [request["start"][:10] for request in api.requests[asked:]] == [BAD]
    all_green = {day: "MATERIALIZED" for day in WEEK}
    assert webserver.partition_statuses(LINEAGE, WEEK) == {name: all_green for name in LINEAGE}
    assert loaded_days(database_dsn) == WEEK
    wait_until(lambda: len(mail(home, "Bamboo digest")) == 2, 90, "the recovery's digest")
    assert mail(home, "Bamboo digest")[1].startswith(f"Subject: Bamboo digest: {BAD}\n")
    assert len(mail(home, "Bamboo run failed")) == 1
