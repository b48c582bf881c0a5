"""What the failure tests share: the day they run, and runs built the way production builds them.

Resources come from the environment through settings.build_resources (the `env` fixture in
conftest.py points it at the fake servers and the test database), with only timeouts and
backoffs shrunk so that every module runs in well under a minute.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi
from bamboo_assets.settings import build_resources, load_settings
from bamboo_assets_tests.faults import run_log, step_errors
from bamboo_assets_tests.helpers import ASSETS, materialize_days
from bamboo_assets_tests.servers import FakeGoogleSheets

KEY = "sk-test-2f8d41c9"
DAY = date(2025, 3, 5)
D = DAY.isoformat()
SHEET = "sheet-failures"
LOADING = ASSETS[:3]  # raw_attempts, validated_attempts, solutions_table
DATA_ASSETS = {
    "raw_attempts",
    "validated_attempts",
    "solutions_table",
    "daily_metrics",
    "dashboard_sheet",
}
HEADER = [
    "study_date",
    "attempts_per_day_total",
    "correct_attempts_per_day",
    "unique_users_per_day",
    "new_users_per_day",
]
FORMULA = '=IMPORTXML("http://x","//a")'  # text a spreadsheet would evaluate


@dataclass
class Run:
    """One run and the instance that recorded it."""

    result: dg.ExecuteInProcessResult
    instance: dg.DagsterInstance
    seconds: float

    @property
    def success(self) -> bool:
        return self.result.success

    @property
    def log(self) -> list[str]:
        return run_log(self.instance, self.result.run_id)

    def errors(self) -> str:
        return "\n".join(step_errors(self.result).values())

    def metadata(self, asset: str) -> dict[str, object]:
        (event,) = self.result.asset_materializations_for_node(asset)
        return {name: value.value for name, value in event.metadata.items()}


def run(resources: dict, first: str = D, last: str | None = None, **kwargs: object) -> Run:
    """Materialize `first`..`last` the way a backfill does, on a fresh instance."""
    instance = dg.DagsterInstance.ephemeral()
    began = time.monotonic()
    result = materialize_days(first, last or first, resources, instance=instance, **kwargs)
    return Run(result, instance, time.monotonic() - began)


def production(**api: object) -> dict:
    """Resources from the environment, as definitions.py builds them; the statistics API with
    the same settings but small backoffs (and whatever `api` overrides)."""
    built = build_resources(os.environ, load_settings(os.environ))
    fields: dict[str, object] = {
        "url": os.environ["ITRESUME_URL"],
        "client": os.environ["ITRESUME_CLIENT"],
        "client_key": dg.EnvVar("ITRESUME_CLIENT_KEY"),
        "connect_timeout_seconds": 2.0,
        "read_timeout_seconds": 5.0,
        "backoff_seconds": 0.01,
    }
    fields.update(api)
    built["statistics_api"] = ItresumeStatisticsApi(**fields)
    return built


def use_sheets(
    sheets: FakeGoogleSheets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worksheet: str
) -> None:
    """Point the environment at the fake Google Sheets server's spreadsheet SHEET."""
    key_file = sheets.write_service_account_file(tmp_path / "service-account.json")
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT_FILE", str(key_file))
    monkeypatch.setenv("DASHBOARD_SPREADSHEET_ID", SHEET)
    monkeypatch.setenv("DASHBOARD_WORKSHEET_NAME", worksheet)
    monkeypatch.setenv("GOOGLE_SHEETS_API_URL", sheets.base_url)


def raw_dir(env: dict[str, str]) -> Path:
    return Path(env["BAMBOO_HOME"]) / "raw"
