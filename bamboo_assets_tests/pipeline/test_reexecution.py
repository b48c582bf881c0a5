"""Re-execute from failure, as the run page offers it: the re-execution passes over the days its
root run already did (bamboo.run_days) and does the failed one, so the API is called for that
day alone and every asset ends materialized for every day of the range.

Done as Dagster does it for the run page, in this process: `execute_job` of the code
location's job, reconstructed from this module (as a run worker loads it), on the instance of
the root run, with `ReexecutionOptions.from_failure` and the tags the run page gives the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest

from bamboo_assets.definitions import build_definitions
from bamboo_assets.settings import Settings
from bamboo_assets_tests.servers import FakeStatisticsApi, Reply
from bamboo_assets_tests.support.bamboo import (
    LINEAGE,
    RANGE_END,
    RANGE_START,
    Bamboo,
    digests,
    loaded_days,
    partition_view,
)

FIRST, BAD, LAST = "2025-02-01", "2025-02-02", "2025-02-03"
DAYS = [FIRST, BAD, LAST]
RESUME = ".dagster/is_resume_retry"


def daily_attempts() -> dg.JobDefinition:
    """The code location's job of every asset (what the schedule runs), for the settings in
    the environment."""
    return build_definitions(Settings.from_env(os.environ)).resolve_job_def("daily_attempts")


def reexecution_tags(instance: dg.DagsterInstance, parent_run_id: str) -> dict[str, str]:
    """The tags the run page gives a re-execution from failure (Dagster's
    `create_reexecuted_run`): the parent run's own, and the resume mark; `execute_job` adds
    neither by itself."""
    parent = instance.get_run_by_id(parent_run_id)
    assert parent is not None
    kept = {key: value for key, value in parent.tags.items() if not key.startswith(".dagster/")}
    return kept | {RESUME: "true"}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """The instance that keeps the root run and its events, which a re-execution reads."""
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def test_a_re_execution_from_failure_fetches_only_the_failed_day_and_completes_the_range(
    configure: Callable[..., Bamboo],
    api: FakeStatisticsApi,
    instance: dg.DagsterInstance,
    database_dsn: str,
    bamboo_home: Path,
) -> None:
    bamboo = configure()  # sets the environment the job is reconstructed from
    job = dg.reconstructable(daily_attempts)
    api.fail_day(BAD, Reply(503))
    with dg.execute_job(job, instance, tags={RANGE_START: FIRST, RANGE_END: LAST}) as failed:
        assert not failed.success
    api.fail_day(BAD, None)  # the API is healthy again
    asked = len(api.requests)

    options = dg.ReexecutionOptions.from_failure(failed.run_id, instance)
    with dg.execute_job(
        job, instance, tags=reexecution_tags(instance, failed.run_id), reexecution_options=options
    ) as again:
        assert again.success

    run = instance.get_run_by_id(again.run_id)
    assert run.root_run_id == failed.run_id
    assert run.tags[RESUME] == "true" and run.tags[RANGE_START] == FIRST
    assert [request["start"][:10] for request in api.requests[asked:]] == [BAD]
    assert loaded_days(database_dsn) == DAYS
    assert partition_view(instance, bamboo.partitions()) == {
        name: {"materialized": DAYS, "failed": []} for name in LINEAGE
    }
    # The days the root run did are reported again as materialized, marked kept.
    for name in LINEAGE:
        records = instance.fetch_materializations(dg.AssetKey(name), limit=20).records
        shown = {
            r.partition_key: r.asset_materialization.metadata
            for r in records
            if r.run_id == again.run_id
        }
        assert sorted(shown) == DAYS, name
        assert {day for day, meta in shown.items() if "kept" in meta} == {FIRST, LAST}, name
    # Its digest covers the whole range, with nothing failed.
    digest = digests(bamboo_home)[-1]
    assert digest.startswith(f"Subject: Bamboo digest: {FIRST} to {LAST} (3 days)\n")
    assert "Days that failed" not in digest
