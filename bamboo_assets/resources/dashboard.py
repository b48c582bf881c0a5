"""The dashboard people read: a Google Sheet, or a local CSV file kept by the same rules."""

from __future__ import annotations

import csv
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import google.auth.exceptions
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from requests.adapters import HTTPAdapter

from bamboo_assets.dashboard_plan import (
    CellRun,
    DashboardPlan,
    MetricsRow,
    apply_plan,
    plan_dashboard,
)
from bamboo_assets.resources.retry import ReportingRetry

GOOGLE_SHEETS_URL = "https://sheets.googleapis.com"
_SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]


@dataclass(frozen=True)
class DashboardReport:
    """What a refresh did, for the asset's metadata."""

    location: str
    plan: DashboardPlan
    requests: int


class DashboardError(RuntimeError):
    """The dashboard could not be read or written; the message says which and why."""


class Dashboard(dg.ConfigurableResource, ABC):
    """Where the daily metrics are shown."""

    @abstractmethod
    def refresh(self, metrics: Sequence[MetricsRow]) -> DashboardReport:
        """Make every day's row equal `metrics`, leaving everything people added alone."""

    @abstractmethod
    def read(self) -> list[list[Any]]:
        """The dashboard's cells as they are now."""

    @abstractmethod
    def location(self) -> str:
        """A link or path users can open."""


class CsvDashboard(Dashboard):
    """A local CSV file with the Google Sheet's rules: the dashboard when no sheet is set."""

    path: str

    def location(self) -> str:
        return str(Path(self.path).resolve())

    def read(self) -> list[list[Any]]:
        path = Path(self.path)
        if not path.exists():
            return []
        with path.open(newline="", encoding="utf-8") as file:
            return list(csv.reader(file))

    def refresh(self, metrics: Sequence[MetricsRow]) -> DashboardReport:
        path = Path(self.path)
        grid = self.read()
        plan = plan_dashboard(grid, metrics)
        if plan.runs:
            path.parent.mkdir(parents=True, exist_ok=True)
            # A file of its own per write, so two runs at once never rename each other's.
            partial = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}.partial")
            with partial.open("x", newline="", encoding="utf-8") as file:
                csv.writer(file).writerows(apply_plan(grid, plan))
            os.replace(partial, path)
        return DashboardReport(self.location(), plan, requests=0)


class _SheetsSession(AuthorizedSession):
    """google-auth's session, sent to `base_url` instead of Google (tests, proxies)."""

    def __init__(self, credentials: service_account.Credentials, base_url: str) -> None:
        super().__init__(credentials)
        self.base_url = base_url.rstrip("/")
        self.calls = 0

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(GOOGLE_SHEETS_URL):
            url = self.base_url + url[len(GOOGLE_SHEETS_URL) :]
        self.calls += 1
        return super().request(method, url, *args, **kwargs)


class GoogleSheetsDashboard(Dashboard):
    """A worksheet of a Google Sheet, refreshed in three Sheets API requests whatever the
    number of days: the worksheet's properties, its values, and one atomic
    `spreadsheets.batchUpdate` that creates or enlarges the worksheet when needed (Google
    refuses writes past the grid) and writes the differing cells.

    Cells are written as `stringValue`/`numberValue`, so nothing is ever evaluated as a
    formula. 429 and 5xx answers are retried by urllib3 with exponential backoff, honouring
    Retry-After (up to `retry_after_max_seconds`): no fixed sleeps. Every retry is logged in
    the run.
    """

    credentials_file: str
    spreadsheet_id: str
    worksheet_name: str = "Sheet1"
    api_url: str = GOOGLE_SHEETS_URL
    timeout_seconds: float = 60.0
    retries: int = 5
    backoff_seconds: float = 1.0
    retry_after_max_seconds: float = 60.0

    def location(self) -> str:
        return f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}"

    def _client(self) -> tuple[HTTPClient, _SheetsSession]:
        try:
            credentials = service_account.Credentials.from_service_account_file(
                self.credentials_file, scopes=_SCOPES
            )
        except (OSError, ValueError) as error:
            raise DashboardError(
                f"GOOGLE_SERVICE_ACCOUNT_FILE ({self.credentials_file}) is not a readable "
                f"service-account key file: {type(error).__name__}"
            ) from None
        session = _SheetsSession(credentials, self.api_url)
        retry = ReportingRetry(
            total=self.retries,
            backoff_factor=self.backoff_seconds,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=None,  # the batchUpdate POST rewrites the same cells: safe to repeat
            respect_retry_after_header=True,
            raise_on_status=False,
            report=dg.get_dagster_logger().warning,
            label=f"Google Sheets (spreadsheet {self.spreadsheet_id})",
            retry_after_cap=self.retry_after_max_seconds,
        )
        for scheme in ("http://", "https://"):
            session.mount(scheme, HTTPAdapter(max_retries=retry))
        client = HTTPClient(auth=None, session=session)
        client.set_timeout(self.timeout_seconds)
        return client, session

    def read(self) -> list[list[Any]]:
        """The worksheet's cells, raw (numbers as numbers, dates as serial numbers)."""
        client, _ = self._client()
        with self._errors():
            if self._properties(client) is None:
                return []
            return self._values(client)

    def refresh(self, metrics: Sequence[MetricsRow]) -> DashboardReport:
        client, session = self._client()
        with self._errors():
            properties = self._properties(client)
            grid = self._values(client) if properties else []
            plan = plan_dashboard(grid, metrics)
            if plan.runs:
                sheet_id, resize = _grid_request(properties, self.worksheet_name, plan)
                writes = [_update_cells(sheet_id, run) for run in plan.runs]
                client.batch_update(self.spreadsheet_id, {"requests": [*resize, *writes]})
        return DashboardReport(self.location(), plan, requests=session.calls)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Google's errors, in words that name the sheet and never the key."""
        try:
            yield
        except APIError as error:
            raise DashboardError(
                f"Google Sheets refused spreadsheet {self.spreadsheet_id}, worksheet "
                f"{self.worksheet_name!r}: HTTP {error.code} {error.error.get('message', '')}"
            ) from None
        except google.auth.exceptions.GoogleAuthError as error:
            raise DashboardError(
                "Google did not accept the service account in GOOGLE_SERVICE_ACCOUNT_FILE: "
                f"{type(error).__name__}"
            ) from None

    def _properties(self, client: HTTPClient) -> dict[str, Any] | None:
        metadata = client.fetch_sheet_metadata(
            self.spreadsheet_id, params={"fields": "sheets.properties"}
        )
        for sheet in metadata.get("sheets", []):
            if sheet["properties"]["title"] == self.worksheet_name:
                return sheet["properties"]
        return None

    def _values(self, client: HTTPClient) -> list[list[Any]]:
        sheet = "'" + self.worksheet_name.replace("'", "''") + "'"
        params = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"}
        return client.values_get(self.spreadsheet_id, sheet, params=params).get("values", [])


def _grid_request(
    properties: dict[str, Any] | None, title: str, plan: DashboardPlan
) -> tuple[int, list[dict[str, Any]]]:
    """The worksheet's id, and the request (if any) that makes its grid hold the plan."""
    rows = max(run.row for run in plan.runs)
    columns = max(run.column + len(run.values) - 1 for run in plan.runs)
    if properties is None:
        sheet_id = int.from_bytes(os.urandom(3), "big")
        grid = {"rowCount": max(rows, 1000), "columnCount": max(columns, 26)}
        new = {"sheetId": sheet_id, "title": title, "gridProperties": grid}
        return sheet_id, [{"addSheet": {"properties": new}}]
    sheet_id = properties["sheetId"]
    grid = properties.get("gridProperties", {})
    have_rows, have_columns = grid.get("rowCount", 0), grid.get("columnCount", 0)
    if rows <= have_rows and columns <= have_columns:
        return sheet_id, []
    size = {"rowCount": max(rows, have_rows), "columnCount": max(columns, have_columns)}
    resize = {
        "properties": {"sheetId": sheet_id, "gridProperties": size},
        "fields": "gridProperties.rowCount,gridProperties.columnCount",
    }
    return sheet_id, [{"updateSheetProperties": resize}]


def _cell(value: int | str) -> dict[str, Any]:
    """Counts as numbers, everything else as text: a formula-looking string stays text."""
    if isinstance(value, int):
        return {"userEnteredValue": {"numberValue": value}}
    return {"userEnteredValue": {"stringValue": str(value)}}


def _update_cells(sheet_id: int, run: CellRun) -> dict[str, Any]:
    return {
        "updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": run.row - 1, "columnIndex": run.column - 1},
            "rows": [{"values": [_cell(value) for value in run.values]}],
            "fields": "userEnteredValue",
        }
    }
