"""The Dagster UI of a compose stack as a browser reaches it: through the `ui` service (nginx),
with or without a login and TLS. The GraphQL documents are the few the deployment tests need:
the workspace, launching `daily_attempts` for one day (tags only, no run config, as the UI's
launchpad does for a partition), one run, the run history; and the GraphQL websocket that the
UI subscribes on.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import struct
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

LOCATION = "bamboo"  # deploy/compose/workspace.yaml
JOB = "daily_attempts"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}

WORKSPACE = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { name repositories { name } }
          ... on PythonError { message stack }
        }
      }
    }
  }
}
"""

LAUNCH = """
mutation Launch($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      status
      jobName
      tags { key value }
      stepStats { stepKey status }
      eventConnection { events { __typename ... on MessageEvent { message } } }
    }
  }
}
"""

RUNS = """
query Runs {
  runsOrError(limit: 100) {
    __typename
    ... on Runs { results { runId status jobName tags { key value } } }
  }
}
"""


class UiNotReady(RuntimeError):
    """The proxy answers but the webserver behind it does not (yet): 502, 503 or 504."""


@dataclass
class UiClient:
    url: str
    auth: tuple[str, str] | None = None
    verify: str | bool = True  # the self-signed certificate's file when the UI is on TLS

    def get(self, path: str, auth: tuple[str, str] | None = None, **kwargs) -> requests.Response:
        """A request as someone with the login `auth` (None: no credentials at all)."""
        kwargs.setdefault("timeout", 30)
        return requests.get(f"{self.url}{path}", auth=auth, verify=self.verify, **kwargs)

    def post(self, path: str, auth: tuple[str, str] | None = None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return requests.post(f"{self.url}{path}", auth=auth, verify=self.verify, **kwargs)

    def graphql(self, document: str, **variables: Any) -> dict[str, Any]:
        response = self.post(
            "/graphql", auth=self.auth, json={"query": document, "variables": variables}
        )
        if response.status_code in (502, 503, 504):
            raise UiNotReady(f"{response.status_code} from the proxy")
        assert response.status_code == 200, f"{response.status_code}: {response.text[:2000]}"
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def location(self) -> dict[str, Any] | None:
        """The code location once loaded (a load error fails at once), else None."""
        data = self.graphql(WORKSPACE)
        assert data["workspaceOrError"]["__typename"] == "Workspace", data
        entries = {e["name"]: e for e in data["workspaceOrError"]["locationEntries"]}
        entry = entries[LOCATION]
        if entry["loadStatus"] != "LOADED":
            return None
        location = entry["locationOrLoadError"]
        assert location["__typename"] == "RepositoryLocation", location
        return location

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
    parts = urlsplit(ui.url)
    assert parts.hostname and parts.port
    sock: socket.socket = socket.create_connection((parts.hostname, parts.port), timeout=30)
    try:
        if parts.scheme == "https":
            cafile = ui.verify if isinstance(ui.verify, str) else None
            context = ssl.create_default_context(cafile=cafile)
            sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        lines = [
            "GET /graphql HTTP/1.1",
            f"Host: {parts.netloc}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Protocol: graphql-ws",
        ]
        if auth:
            basic = base64.b64encode(":".join(auth).encode()).decode()
            lines.append(f"Authorization: Basic {basic}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(4096)
            assert chunk, f"the connection closed during the handshake: {buffer!r}"
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        status = int(head.split()[1])
        if status != 101:
            return status, None
        sock.sendall(_client_frame(json.dumps({"type": "connection_init", "payload": {}})))
        while (frame := _server_frame(buffer)) is None:
            chunk = sock.recv(4096)
            assert chunk, "the websocket closed before any message"
            buffer += chunk
        return status, json.loads(frame)
    finally:
        sock.close()


def _client_frame(text: str) -> bytes:
    """One masked text frame (RFC 6455: a client masks every frame)."""
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


def _server_frame(buffer: bytes) -> str | None:
    """The first unmasked text frame in `buffer`, or None while it is incomplete."""
    if len(buffer) < 2:
        return None
    assert buffer[0] & 0x0F == 0x1, f"not a text frame: {buffer[:2]!r}"
    length, start = buffer[1] & 0x7F, 2
    if length == 126:
        if len(buffer) < 4:
            return None
        (length,), start = struct.unpack(">H", buffer[2:4]), 4
    if len(buffer) < start + length:
        return None
    return buffer[start : start + length].decode()
