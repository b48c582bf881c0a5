"""The dashboard people read: a Google Sheet, or a local CSV file kept by the same rules."""

from __future__ import annotations

import csv
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
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
from urllib3.util.retry import Retry

from bamboo_assets.dashboard_plan import DashboardPlan, MetricsRow, apply_plan, plan_dashboard

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
    def location(self) -> str:
        """A link or path users can open."""


class CsvDashboard(Dashboard):
    """A local CSV file with the Google Sheet's rules: the dashboard when no sheet is set."""

    path: str

    def location(self) -> str:
        return str(Path(self.path).resolve())

    def refresh(self, metrics: Sequence[MetricsRow]) -> DashboardReport:
        path = Path(self.path)
        grid: list[list[Any]] = []
        if path.exists():
            with path.open(newline="", encoding="utf-8") as file:
                grid = [row for row in csv.reader(file)]
        plan = plan_dashboard(grid, metrics)
        if plan.runs:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            with partial.open("w", newline="", encoding="utf-8") as file:
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
    """A worksheet of a Google Sheet, read once and written with one `values.batchUpdate`.

    A refresh costs two Sheets API requests whatever the number of days (three when the
    worksheet has to be created). 429 and 5xx answers are retried by urllib3 with
    exponential backoff, honouring Retry-After: no fixed sleeps. Values are written RAW, so
    nothing is ever evaluated as a formula.
    """

    credentials_file: str
    spreadsheet_id: str
    worksheet_name: str = "Sheet1"
    api_url: str = GOOGLE_SHEETS_URL
    timeout_seconds: float = 60.0
    retries: int = 5
    backoff_seconds: float = 1.0

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
        retry = Retry(
            total=self.retries,
            backoff_factor=self.backoff_seconds,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=None,  # batchUpdate POSTs rewrite the same cells: safe to repeat
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        for scheme in ("http://", "https://"):
            session.mount(scheme, HTTPAdapter(max_retries=retry))
        client = HTTPClient(auth=None, session=session)
        client.set_timeout(self.timeout_seconds)
        return client, session

    def refresh(self, metrics: Sequence[MetricsRow]) -> DashboardReport:
        client, session = self._client()
        sheet = "'" + self.worksheet_name.replace("'", "''") + "'"
        try:
            grid = self._read(client, sheet)
            plan = plan_dashboard(grid, metrics)
            if plan.runs:
                client.values_batch_update(
                    self.spreadsheet_id,
                    {
                        "valueInputOption": "RAW",
                        "data": [
                            {"range": f"{sheet}!{run.a1}", "values": [run.values]}
                            for run in plan.runs
                        ],
                    },
                )
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
        return DashboardReport(self.location(), plan, requests=session.calls)

    def _read(self, client: HTTPClient, sheet: str) -> list[list[Any]]:
        """The worksheet's cells, raw (numbers as numbers, dates as serial numbers)."""
        params = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"}
        try:
            return client.values_get(self.spreadsheet_id, sheet, params=params).get("values", [])
        except APIError as error:
            if error.code != 400 or "parse range" not in str(error.error.get("message", "")):
                raise
        client.batch_update(
            self.spreadsheet_id,
            {"requests": [{"addSheet": {"properties": {"title": self.worksheet_name}}}]},
        )
        return []
