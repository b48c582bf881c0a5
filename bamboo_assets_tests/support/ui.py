"""Dagster's UI in tests: dagster-webserver and dagster-daemon started from the repository root
with workspace.yaml, as `make dev` runs them, on an instance made from deploy/local/dagster.yaml
unchanged, driven through the GraphQL API the UI itself calls.

That instance queues runs, so the daemon is started too: it dequeues runs, runs backfills and
the sensors (failure alerts, backfill digests), as it does for users.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import requests

from bamboo_assets_tests.support.dagster_processes import (
    REPO,
    VENV_BIN,
    DagsterProcess,
    free_port,
    running,
    wait_until,
)
from bamboo_assets_tests.support.graphql import DagsterGraphql

LOCAL_INSTANCE = REPO / "deploy" / "local" / "dagster.yaml"
FINISHED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

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
    ... on PartitionBackfill { status runs { runId status tags { key value } } }
  }
}
"""
PARTITION_STATUSES = """
query Statuses($assetKeys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $assetKeys) {
    assetKey { path }
    assetPartitionStatuses {
      __typename
      ... on TimePartitionStatuses { ranges { status startKey endKey } }
    }
  }
}
"""


@dataclass
class Webserver(DagsterGraphql):
    processes: list[DagsterProcess] = field(default_factory=list)

    def answers(self) -> bool:
        return requests.get(f"{self.url}/server_info", timeout=5).status_code == 200

    def backfill(self, params: dict[str, Any], timeout: float = 240) -> dict[str, Any]:
        """Launch a backfill as the UI does and wait until it has finished; its final state."""
        launched = self.graphql(LAUNCH_BACKFILL, params=params)["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched

        def state() -> dict[str, Any]:
            answer = self.graphql(BACKFILL, id=launched["backfillId"])
            return answer["partitionBackfillOrError"]

        wait_until(
            lambda: state()["status"] in FINISHED_BACKFILL, timeout, "the backfill", self.processes
        )
        return state() | {"id": launched["backfillId"]}

    def partition_statuses(self, assets: list[str], days: list[str]) -> dict[str, dict[str, str]]:
        """asset → day → MATERIALIZED, FAILED or MISSING, as the UI's partition view shows."""
        nodes = self.graphql(PARTITION_STATUSES, assetKeys=[{"path": [name]} for name in assets])[
            "assetNodes"
        ]
        view = {}
        for node in nodes:
            shown = {day: "MISSING" for day in days}
            for status in node["assetPartitionStatuses"]["ranges"]:
                first = date.fromisoformat(status["startKey"])
                last = date.fromisoformat(status["endKey"])
                for day in days:
                    if first <= date.fromisoformat(day) <= last:
                        shown[day] = status["status"]
            view["/".join(node["assetKey"]["path"])] = shown
        return view


@contextmanager
def ui(tmp_path: Path, env: dict[str, str]) -> Iterator[Webserver]:
    """The webserver and the daemon, with DAGSTER_HOME in `tmp_path`, stopped afterwards."""
    dagster_home = Path(env["DAGSTER_HOME"])
    dagster_home.mkdir(exist_ok=True)
    shutil.copy(LOCAL_INSTANCE, dagster_home / "dagster.yaml")
    port = free_port()
    with ExitStack() as stack:  # stops every process group started here, whatever happens
        web = stack.enter_context(
            running(
                "dagster-webserver",
                [str(VENV_BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port)]
                + ["-w", "workspace.yaml"],
                env,
                tmp_path,
            )
        )
        server = Webserver(url=f"http://127.0.0.1:{port}", processes=[web])
        wait_until(server.answers, 90, "the webserver's /server_info", server.processes)
        # Started once the webserver has created the SQLite storage, so that the two processes
        # do not create it at the same time.
        daemon = stack.enter_context(
            running(
                "dagster-daemon",
                [str(VENV_BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                env,
                tmp_path,
            )
        )
        server.processes.append(daemon)
        wait_until(lambda: server.location() is not None, 90, "the code location", server.processes)
        yield server
