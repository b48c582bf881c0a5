"""The Dagster UI of a compose stack as a browser reaches it: through the `ui` service (nginx),
with or without a login and TLS. The GraphQL documents are the few the deployment tests need
beside the workspace (support/graphql.py): launching `daily_attempts` for one day (tags only,
no run config, as the UI's launchpad does for a partition), one run, the run history; and the
GraphQL websocket that the UI subscribes on.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from dataclasses import dataclass
from typing import Any

import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bamboo_assets_tests.support.graphql import FINISHED, LAUNCH, LOCATION, RUN, DagsterGraphql

JOB = "daily_attempts"


RUNS = """
query Runs {
  runsOrError(limit: 100) {
    __typename
    ... on Runs { results { runId status jobName tags { key value } } }
  }
}
"""


@dataclass
class UiClient(DagsterGraphql):
    def get(self, path: str, auth: tuple[str, str] | None = None, **kwargs) -> requests.Response:
        """A request as someone with the login `auth` (None: no credentials at all)."""
        kwargs.setdefault("timeout", 30)
        return requests.get(f"{self.url}{path}", auth=auth, verify=self.verify, **kwargs)

    def launch_day(self, day: str) -> str:
        """Launch `daily_attempts` for one day, with the partition tag only; the run id."""
        location = self.location()
        assert location is not None, "the code location is not loaded"
        (repository,) = [r["name"] for r in location["repositories"]]
        params = {
            "mode": "default",
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": repository,
                "pipelineName": JOB,
            },
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day}]},
        }
        launched = self.graphql(LAUNCH, executionParams=params)["launchPipelineExecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        return launched["run"]["runId"]

    def run(self, run_id: str) -> dict[str, Any]:
        found = self.graphql(RUN, runId=run_id)["runOrError"]
        assert found["__typename"] == "Run", f"run {run_id} is not in the instance: {found}"
        return found

    def wait_for_run(self, run_id: str, timeout: float = 300) -> dict[str, Any]:
        """The run once finished; fails naming its last messages unless it succeeded."""
        deadline = time.monotonic() + timeout
        while (found := self.run(run_id))["status"] not in FINISHED:
            assert time.monotonic() < deadline, f"run {run_id} still {found['status']}"
            time.sleep(1)
        messages = [e.get("message") for e in found["eventConnection"]["events"]]
        assert found["status"] == "SUCCESS", (
            f"run {run_id} {found['status']}, steps {found['stepStats']}:\n"
            + "\n".join(filter(None, messages[-15:]))
        )
        return found

    def runs(self) -> list[dict[str, Any]]:
        found = self.graphql(RUNS)["runsOrError"]
        assert found["__typename"] == "Runs", found
        return found["results"]


def graphql_websocket(ui: UiClient, auth: tuple[str, str] | None) -> tuple[int, Any]:
    """Open the UI's GraphQL websocket (protocol graphql-ws) through the proxy as a browser
    does, and say connection_init: (the handshake's HTTP status, the first message back, or
    None when the upgrade was refused)."""
    url = "ws" + ui.url.removeprefix("http") + "/graphql"
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    context = None
    if url.startswith("wss:"):
        context = ssl.create_default_context(
            cafile=ui.verify if isinstance(ui.verify, str) else None
        )
    try:
        with connect(
            url, additional_headers=headers, subprotocols=["graphql-ws"], ssl=context,
            open_timeout=30,
        ) as socket:  # fmt: skip
            socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            return 101, json.loads(socket.recv(timeout=30))
    except InvalidStatus as refused:
        return refused.response.status_code, None
