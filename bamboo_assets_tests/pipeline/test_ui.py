"""What the Dagster UI shows of Bamboo and one "Materialize" of a day, through the GraphQL API
the UI itself calls.

`dagster-webserver` and `dagster-daemon` run from the repository root with workspace.yaml, as
`make dev` runs them, on an instance made from deploy/local/dagster.yaml unchanged
(support/ui.py). That file queues runs (QueuedRunCoordinator), so the daemon is started too: it
is what dequeues and launches a run from the UI, as it does for users.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bamboo_assets_tests.support.bamboo import LINEAGE
from bamboo_assets_tests.support.dagster_processes import bamboo_env, wait_until
from bamboo_assets_tests.support.graphql import FINISHED, LAUNCH, LOCATION, RUN
from bamboo_assets_tests.support.ui import Webserver, ui

pytestmark = pytest.mark.slow

GROUP = "bamboo"
DAY = "2025-03-01"

ASSETS_OF_GROUP = """
query AssetsOfGroup($group: AssetGroupSelector!) {
  assetNodes(group: $group) {
    assetKey { path }
    groupName
    dependencyKeys { path }
    isPartitioned
    partitionDefinition { type }
    partitionKeys
    jobNames
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name jobNames } }
    }
  }
}
"""

INSTIGATORS = """
query Instigators($repository: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repository) {
    __typename
    ... on Schedules {
      results { name cronSchedule pipelineName scheduleState { status } }
    }
  }
  sensorsOrError(repositorySelector: $repository) {
    __typename
    ... on Sensors {
      results { name sensorType sensorState { status } }
    }
  }
}
"""

# The UI's own ConfigPartitionForAssetJobQuery (ui-core/src/launchpad/ConfigFetch.tsx): the
# tags and run config of one partition, fetched before a single-partition launch.
PARTITION_TAGS_AND_CONFIG = """
query PartitionTagsAndConfig(
  $repositoryName: String!
  $repositoryLocationName: String!
  $jobName: String!
  $partitionName: String!
  $assetKeys: [AssetKeyInput!]!
) {
  pipelineOrError(
    params: {
      pipelineName: $jobName
      repositoryName: $repositoryName
      repositoryLocationName: $repositoryLocationName
    }
  ) {
    __typename
    ... on Pipeline {
      partition(partitionName: $partitionName, selectedAssetKeys: $assetKeys) {
        runConfigOrError {
          __typename
          ... on PartitionRunConfig { yaml }
          ... on PythonError { message }
        }
        tagsOrError {
          __typename
          ... on PartitionTags { results { key value } }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


MATERIALIZATIONS = """
query Materializations($assetKeys: [AssetKeyInput!], $partitions: [String!]) {
  assetNodes(assetKeys: $assetKeys) {
    assetKey { path }
    assetMaterializations(partitions: $partitions) { runId partition }
  }
}
"""


@pytest.fixture
def webserver(tmp_path: Path, database_dsn: str) -> Iterator[Webserver]:
    with ui(
        tmp_path, bamboo_env(tmp_path / "bamboo", database_dsn, tmp_path / "dagster")
    ) as server:
        yield server


def common_job(assets: list[dict[str, Any]]) -> str:
    """The job a "Materialize" of these assets launches: the UI's getCommonJob
    (ui-core/src/assets/LaunchAssetExecutionButton.tsx) with no preferred job."""
    first, *others = assets
    shared = [job for job in first["jobNames"] if all(job in a["jobNames"] for a in others)]
    assert shared, "the assets share no job, the UI could not launch them as one run"
    return shared[0]


def check_handles(assets: list[dict[str, Any]], job: str) -> list[dict[str, Any]]:
    """The asset checks launched with the assets: the UI's getAssetCheckHandleInputs."""
    handles = []
    for asset in assets:
        checks = asset["assetChecksOrError"]
        if checks["__typename"] != "AssetChecks":
            continue
        for check in checks["checks"]:
            if not check["jobNames"] or job in check["jobNames"]:
                handles.append({"name": check["name"], "assetKey": asset["assetKey"]})
    return handles


def test_the_ui_shows_the_lineage_and_materializes_one_day(
    webserver: Webserver, database_dsn: str
) -> None:
    location = webserver.location()
    assert location is not None
    (repository_name,) = [r["name"] for r in location["repositories"]]
    repository = {"repositoryName": repository_name, "repositoryLocationName": LOCATION}

    # The asset graph of the group `bamboo`: six assets in one chain, partitioned by day.
    assets = webserver.graphql(ASSETS_OF_GROUP, group={"groupName": GROUP, **repository})[
        "assetNodes"
    ]
    by_name = {"/".join(a["assetKey"]["path"]): a for a in assets}
    assert sorted(by_name) == sorted(LINEAGE)
    for upstream, name in zip([None, *LINEAGE], LINEAGE, strict=False):
        asset = by_name[name]
        assert asset["groupName"] == GROUP
        upstream_keys = [d["path"] for d in asset["dependencyKeys"]]
        assert upstream_keys == ([[upstream]] if upstream else []), name
        assert asset["isPartitioned"], name
        assert asset["partitionDefinition"]["type"] == "TIME_WINDOW", name
        assert asset["partitionKeys"][0] == "2024-01-01", name  # BAMBOO_START_DATE default
        assert DAY in asset["partitionKeys"], name
        assert "daily_attempts" in asset["jobNames"], name

    instigators = webserver.graphql(INSTIGATORS, repository=repository)
    schedules = {s["name"]: s for s in instigators["schedulesOrError"]["results"]}
    schedule = schedules["daily_attempts_schedule"]
    assert (schedule["cronSchedule"], schedule["pipelineName"]) == ("0 3 * * *", "daily_attempts")
    assert schedule["scheduleState"]["status"] == "RUNNING"  # default_status, no click needed
    sensors = {
        s["name"]: (s["sensorType"], s["sensorState"]["status"])
        for s in instigators["sensorsOrError"]["results"]
    }
    assert sensors["failed_run_alert"] == ("RUN_STATUS", "RUNNING")
    assert sensors["backfill_digest"] == ("STANDARD", "RUNNING")

    # "Materialize" of the whole group for one partition, as the UI's partition dialog sends it
    # (LaunchAssetChoosePartitionsDialog.onLaunchAsSingleRun): one partition is a single run of
    # the assets' common job, with the partition's tags and config fetched from the server.
    ordered = [by_name[name] for name in LINEAGE]
    job = common_job(ordered)
    asset_keys = [{"path": a["assetKey"]["path"]} for a in ordered]
    partition = webserver.graphql(
        PARTITION_TAGS_AND_CONFIG,
        jobName=job,
        partitionName=DAY,
        assetKeys=asset_keys,
        **repository,
    )["pipelineOrError"]["partition"]
    assert partition["tagsOrError"]["__typename"] == "PartitionTags", partition
    assert partition["runConfigOrError"]["__typename"] == "PartitionRunConfig", partition
    tags = partition["tagsOrError"]["results"]
    assert {"key": "dagster/partition", "value": DAY} in tags
    execution_params = {
        "mode": "default",
        "executionMetadata": {"tags": tags},
        "runConfigData": partition["runConfigOrError"]["yaml"],
        "selector": {
            **repository,
            "pipelineName": job,
            "assetSelection": asset_keys,
            "assetCheckSelection": check_handles(ordered, job),
        },
    }
    launched = webserver.graphql(LAUNCH, executionParams=execution_params)[
        "launchPipelineExecution"
    ]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    assert launched["run"]["status"] == "QUEUED"  # the daemon takes it from here

    def run() -> dict[str, Any]:
        return webserver.graphql(RUN, runId=run_id)["runOrError"]

    wait_until(lambda: run()["status"] in FINISHED, 90, f"run {run_id}", webserver.processes)
    finished = run()
    messages = [e.get("message") for e in finished["eventConnection"]["events"]]
    assert finished["status"] == "SUCCESS", "\n".join(filter(None, messages[-15:]))
    assert finished["jobName"] == job
    assert {"key": "dagster/partition", "value": DAY} in finished["tags"]

    # The asset pages now show each asset materialized for the day by that run.
    nodes = webserver.graphql(MATERIALIZATIONS, assetKeys=asset_keys, partitions=[DAY])[
        "assetNodes"
    ]
    materialized = {
        "/".join(n["assetKey"]["path"]): [
            (m["runId"], m["partition"]) for m in n["assetMaterializations"]
        ]
        for n in nodes
    }
    assert materialized == {name: [(run_id, DAY)] for name in LINEAGE}
