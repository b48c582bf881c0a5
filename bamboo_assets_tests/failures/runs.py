"""What the failure tests share: the day they run, and Bamboo configured the way production is.

Bamboo is built from the environment (the `env` fixture in conftest.py points it at the fake
servers and the test database) by `Settings.from_env` and `build_definitions`, as the code
location builds it. Only what no setting offers is shrunk, the waits between retries, so that
every module runs in seconds.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from bamboo_assets.definitions import build_definitions
from bamboo_assets.settings import Settings
from bamboo_assets_tests.servers import FakeGoogleSheets
from bamboo_assets_tests.support.bamboo import LINEAGE, Bamboo, day_metadata, resource_with
from bamboo_assets_tests.support.faults import failure_message, run_log, step_errors

KEY = "sk-test-2f8d41c9"
DAY = date(2025, 3, 5)
D = DAY.isoformat()
SHEET = "sheet-failures"
STEP = "bamboo_pipeline"  # the one step every asset of a run is done in
LOADING = LINEAGE[:3]  # raw_attempts, validated_attempts, solutions_table
DATA_ASSETS = set(LINEAGE[:5])  # every asset but the digest
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
        """Every error of the run as the UI shows it, causes included."""
        return "\n".join(step_errors(self.result).values())

    def message(self) -> str:
        """The top message of the run's failed step (what the run page's error line says)."""
        return failure_message(self.result, STEP)

    def metadata(self, asset: str, day: str = D) -> dict[str, object]:
        """What `asset`'s page shows of `day` after this run."""
        return day_metadata(self.result, asset)[day]


def production(**api: object) -> Bamboo:
    """Bamboo as the environment configures it, its statistics API waiting 10 ms between
    tries instead of seconds (and with whatever `api` overrides)."""
    settings = Settings.from_env(os.environ)
    bamboo = Bamboo(settings, build_definitions(settings))
    client = resource_with(bamboo.resource("statistics_api"), backoff_seconds=0.01, **api)
    return bamboo.with_resources(statistics_api=client)


def run(
    bamboo: Bamboo,
    first: str = D,
    last: str | None = None,
    select: list[str] | None = None,
    **kwargs: object,
) -> Run:
    """One run of `first`..`last` (the selected assets, else all), as a backfill runs it."""
    began = time.monotonic()
    result = bamboo.run(first, last, select=select, **kwargs)
    return Run(result, bamboo.instance, time.monotonic() - began)


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
