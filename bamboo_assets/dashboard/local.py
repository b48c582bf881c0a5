"""The dashboard without a Google Sheet: a CSV file kept by the sheet's rules, and a page."""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.dashboard.page import dashboard_html
from bamboo_assets.dashboard.plan import apply_plan, plan_dashboard
from bamboo_assets.dashboard.resource import Dashboard, DashboardReport


class CsvDashboard(Dashboard):
    """A local CSV file with the Google Sheet's rules, and beside it `dashboard.html` (the
    table and its chart, self-contained): the dashboard when no sheet is set."""

    path: str

    def location(self) -> str:
        """The page people open: `dashboard.html` beside the CSV file."""
        return str(self.html_path().resolve())

    def html_path(self) -> Path:
        return Path(self.path).with_suffix(".html")

    def _read(self) -> list[list[Any]]:
        path = Path(self.path)
        if not path.exists():
            return []
        with path.open(newline="", encoding="utf-8") as file:
            return list(csv.reader(file))

    def refresh(self, metrics: Sequence[DayMetrics]) -> DashboardReport:
        path = Path(self.path)
        grid = self._read()
        plan = plan_dashboard(grid, metrics)
        if plan.runs:
            rows = apply_plan(grid, plan)
            _replace(path, lambda file: csv.writer(file).writerows(rows), newline="")
        _replace(self.html_path(), lambda file: file.write(dashboard_html(metrics)))
        return DashboardReport(self.location(), plan, requests=0, written=self._read())


def _replace(path: Path, write: Callable[[TextIO], object], newline: str | None = None) -> None:
    """Write a file of its own, then rename it over `path`: two runs at once never rename
    each other's, and a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}.partial")
    with partial.open("x", newline=newline, encoding="utf-8") as file:
        write(file)
    os.replace(partial, path)
