"""The GraphQL API that Dagster's UI calls, as the tests call it: directly on a local webserver,
or through the compose stack's proxy with a login and TLS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

LOCATION = "bamboo"  # workspace.yaml, and deploy/compose/workspace.yaml
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

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}  # a run's statuses that are final
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


class UiNotReady(RuntimeError):
    """A proxy answers but the webserver behind it does not (yet): 502, 503 or 504."""


@dataclass
class DagsterGraphql:
    url: str
    auth: tuple[str, str] | None = None  # the login a proxy asks for
    verify: str | bool = True  # the self-signed certificate's file when the UI is on TLS

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
