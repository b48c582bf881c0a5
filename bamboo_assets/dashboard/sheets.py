"""The dashboard as a Google Sheet: read and written in two Sheets API requests (three when the
worksheet does not exist yet)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import dagster as dg
import google.auth.exceptions
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from gspread.urls import SPREADSHEET_BATCH_UPDATE_URL
from requests.adapters import HTTPAdapter

from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.dashboard.chart import chart_matches, chart_requests
from bamboo_assets.dashboard.plan import (
    SHEETS_EPOCH,
    CellRun,
    DashboardPlan,
    plan_dashboard,
    sheet_date,
)
from bamboo_assets.dashboard.resource import Dashboard, DashboardError, DashboardReport
from bamboo_assets.resources.retry import ReportingRetry

GOOGLE_SHEETS_URL = "https://sheets.googleapis.com"
_SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]


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
    """A worksheet of a Google Sheet, refreshed in at most three Sheets API requests whatever
    the number of days, the read-back check included: one `spreadsheets.get` of the
    worksheet's grid (values and number formats), charts and developer metadata, then, when
    anything differs, one atomic `spreadsheets.batchUpdate` that creates or enlarges the
    worksheet (Google refuses writes past the grid), writes the differing cells, keeps
    Bamboo's chart, and answers with the worksheet as written. (A missing worksheet costs one
    more `get`, to tell it from a broken request.)

    Days are date cells (`yyyy-mm-dd`), counts numbers, anything else `stringValue`, so
    nothing is ever evaluated as a formula. 429 and 5xx answers are retried by urllib3 with
    exponential backoff, honouring Retry-After (up to `retry_after_max_seconds`): no fixed
    sleeps. Every retry is logged in the run.
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

    def refresh(self, metrics: Sequence[DayMetrics]) -> DashboardReport:
        client, session = self._client()
        with self._errors():
            sheet = self._worksheet(client)
            plan = plan_dashboard(_grid(sheet), metrics, typed_dates=True)
            # Tolerate an answer that leaves a 0 id out, as protobuf JSON may.
            sheet_id = sheet["properties"].get("sheetId", 0) if sheet else _new_sheet_id()
            requests = [
                *_grid_request(sheet, self.worksheet_name, sheet_id, plan),
                *(_update_cells(sheet_id, part) for run in plan.runs for part in _by_kind(run)),
                *chart_requests(sheet, sheet_id, plan),
            ]
            if requests:
                sheet = self._batch_update(client, requests)
        written = _grid(sheet)
        matches = chart_matches(sheet, sheet_id, plan_dashboard(written, metrics))
        return DashboardReport(self.location(), plan, session.calls, written, matches)

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

    def _range(self) -> str:
        return "'" + self.worksheet_name.replace("'", "''") + "'"

    def _worksheet(self, client: HTTPClient) -> dict[str, Any] | None:
        """The worksheet with its grid, charts and markers; None if there is none yet."""
        params = {"includeGridData": "true", "ranges": self._range(), "fields": _FIELDS}
        try:
            answer = client.fetch_sheet_metadata(self.spreadsheet_id, params=params)
        except APIError as error:
            # Google answers a range naming a missing worksheet with 400; make sure that is why.
            if error.code != 400:
                raise
            titles = client.fetch_sheet_metadata(
                self.spreadsheet_id, params={"fields": "sheets.properties.title"}
            )
            if any(s["properties"]["title"] == self.worksheet_name for s in titles["sheets"]):
                raise
            return None
        return _only_sheet(answer)

    def _batch_update(self, client: HTTPClient, requests: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply `requests` atomically; Google answers with the worksheet as it now is."""
        body = {
            "requests": requests,
            "includeSpreadsheetInResponse": True,
            "responseRanges": [self._range()],
            "responseIncludeGridData": True,
        }
        answer = client.request(
            "post",
            SPREADSHEET_BATCH_UPDATE_URL % self.spreadsheet_id,
            params={"fields": f"updatedSpreadsheet({_FIELDS})"},
            json=body,
        ).json()
        return _only_sheet(answer.get("updatedSpreadsheet") or {})


# What Bamboo reads of a worksheet, in one request, and what Google answers after a write.
_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount)),"
    "charts(chartId,spec),developerMetadata(metadataKey,metadataValue),"
    "data.rowData.values(effectiveValue,userEnteredFormat.numberFormat))"
)
_DATE_FORMAT = {"type": "DATE", "pattern": "yyyy-mm-dd"}


def _only_sheet(spreadsheet: dict[str, Any]) -> dict[str, Any] | None:
    sheets = spreadsheet.get("sheets") or []
    return sheets[0] if sheets else None


def _new_sheet_id() -> int:
    return int.from_bytes(os.urandom(3), "big")


def _value(cell: dict[str, Any]) -> Any:
    """A cell as the plan compares it: a date cell as its day, a whole number as an int."""
    value = cell.get("effectiveValue") or {}
    if "numberValue" in value:
        number = value["numberValue"]
        kind = ((cell.get("userEnteredFormat") or {}).get("numberFormat") or {}).get("type")
        if kind in ("DATE", "DATE_TIME"):
            return sheet_date(number) or number
        return int(number) if float(number).is_integer() else number
    return value.get("stringValue", value.get("boolValue", ""))


def _grid(sheet: dict[str, Any] | None) -> list[list[Any]]:
    """The worksheet's cells, trailing empty rows dropped."""
    data = ((sheet or {}).get("data") or [{}])[0]
    grid = [[_value(cell) for cell in row.get("values") or []] for row in data.get("rowData") or []]
    while grid and not any(cell != "" for cell in grid[-1]):
        grid.pop()
    return grid


def _grid_request(
    sheet: dict[str, Any] | None, title: str, sheet_id: int, plan: DashboardPlan
) -> list[dict[str, Any]]:
    """The request (if any) that makes the worksheet hold the plan and, right of the table,
    the chart's anchor cell."""
    rows = max([run.row for run in plan.runs], default=1)
    columns = max([run.column + len(run.values) - 1 for run in plan.runs], default=1)
    columns = max(columns, max(plan.columns.values()) + 2)
    if sheet is None:
        grid = {"rowCount": max(rows, 1000), "columnCount": max(columns, 26)}
        new = {"sheetId": sheet_id, "title": title, "gridProperties": grid}
        return [{"addSheet": {"properties": new}}]
    grid = sheet["properties"].get("gridProperties", {})
    have_rows, have_columns = grid.get("rowCount", 0), grid.get("columnCount", 0)
    if rows <= have_rows and columns <= have_columns:
        return []
    size = {"rowCount": max(rows, have_rows), "columnCount": max(columns, have_columns)}
    resize = {
        "properties": {"sheetId": sheet_id, "gridProperties": size},
        "fields": "gridProperties.rowCount,gridProperties.columnCount",
    }
    return [{"updateSheetProperties": resize}]


def _by_kind(run: CellRun) -> list[CellRun]:
    """A run split where it passes from dates to other cells: a date's write also sets its
    number format, and another cell's must leave the format people gave it."""
    parts: list[CellRun] = []
    for offset, value in enumerate(run.values):
        if parts and isinstance(parts[-1].values[-1], date) == isinstance(value, date):
            parts[-1].values.append(value)
        else:
            parts.append(CellRun(run.row, run.column + offset, [value]))
    return parts


def _cell(value: date | int | str) -> dict[str, Any]:
    """Days as dates, counts as numbers, everything else as text: a formula-looking string
    stays text."""
    if isinstance(value, date):
        serial = (value - SHEETS_EPOCH).days
        return {
            "userEnteredValue": {"numberValue": serial},
            "userEnteredFormat": {"numberFormat": _DATE_FORMAT},
        }
    if isinstance(value, int):
        return {"userEnteredValue": {"numberValue": value}}
    return {"userEnteredValue": {"stringValue": str(value)}}


def _update_cells(sheet_id: int, run: CellRun) -> dict[str, Any]:
    dates = isinstance(run.values[0], date)
    return {
        "updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": run.row - 1, "columnIndex": run.column - 1},
            "rows": [{"values": [_cell(value) for value in run.values]}],
            "fields": "userEnteredValue,userEnteredFormat.numberFormat"
            if dates
            else "userEnteredValue",
        }
    }
