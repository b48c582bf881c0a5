"""Figure 2: Sheets API requests for one dashboard refresh, Bamboo vs the notebook.

Google allows 60 write requests a minute per user; the notebook wrote one row per request
for every day in `public.daily_metrics` on every run and slept 65 s after each 50 writes.
Bamboo's `GoogleSheetsDashboard` reads the worksheet (values, formats, charts, its chart
marker) in one `spreadsheets.get` and, when anything differs, sends one `batchUpdate` whose
answer is the sheet as written, which the `dashboard_matches_metrics` check compares: the
count below is the whole materialization's, the check included, whatever the number of days.

Both run against FakeGoogleSheets (strict_grid=True, real HTTP and OAuth) with 1, 30 and 365
days of metrics, on an empty sheet and on an up-to-date sheet where one day changed. The
notebook's count is also worked out from its code (`analytic`) and checked against its calls
replayed with gspread; its sleeps are counted, not slept, and added to its seconds.

    python -m benchmarks.dashboard_requests
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import gspread
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.service_account import Credentials

from bamboo_assets.dashboard_plan import MetricsRow
from bamboo_assets.resources.dashboard import GoogleSheetsDashboard
from bamboo_assets.sql import METRIC_COLUMNS
from bamboo_assets_tests.servers import FakeGoogleSheets
from benchmarks.common import (
    BenchmarkError,
    Row,
    alternate,
    env_int,
    format_table,
    median,
    peak_rss_of_this_process,
    progress,
    ratio,
    scratch_dir,
)

DAY_COUNTS = (1, 30, 365)
LAST_DAY = date(2025, 6, 30)
WORKSHEET = "Sheet1"
SCENARIOS = ("empty sheet", "one day changed")
GOOGLE_SHEETS_URL = "https://sheets.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
# The notebook's quota handling, verbatim.
REQUESTS_PER_MIN_LIMIT = 50
SLEEP_BETWEEN_REQUESTS_SEC = 65


def metrics(days: int, changed: bool = False) -> list[MetricsRow]:
    """`days` days of plausible metrics ending LAST_DAY; `changed` alters the last day."""
    rows: list[MetricsRow] = []
    for index in range(days):
        day = LAST_DAY - timedelta(days=days - 1 - index)
        rows.append((day.isoformat(), 8000 + index, 3000 + index, 400 + index % 50, 6))
    if changed:
        study_date, total, correct, unique, new = rows[-1]
        rows[-1] = (study_date, total + 17, correct + 5, unique, new)
    return rows


def notebook_analytic(days: int, scenario: str) -> tuple[int, int]:
    """(requests, sleeps) the notebook makes, from its code and gspread 6's calls.

    Opening is two metadata GETs (`open_by_key`, then `worksheet(name)`); then the header
    row is read, written only when columns are missing (an empty sheet), the date column is
    read, and every day in the table is written by one update or append_row.
    """
    header_write = 1 if scenario == "empty sheet" else 0
    return 2 + 1 + header_write + 1 + days, (days - 1) // REQUESTS_PER_MIN_LIMIT


class _Redirected(AuthorizedSession):
    """google-auth's session sending Google's Sheets URLs to the fake server.

    The fake answers `majorDimension=ROWS` only, and the notebook's `col_values` asks for
    COLUMNS: that one request is sent as ROWS and its answer transposed here, so the fake
    still sees exactly one request for it.
    """

    def __init__(self, credentials: Credentials, base_url: str) -> None:
        super().__init__(credentials)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(GOOGLE_SHEETS_URL):
            url = self.base_url + url[len(GOOGLE_SHEETS_URL) :]
        params = kwargs.get("params")
        columns = isinstance(params, dict) and params.get("majorDimension") == "COLUMNS"
        if columns:
            kwargs["params"] = {**params, "majorDimension": "ROWS"}
        response = super().request(method, url, *args, **kwargs)
        if columns and response.ok:
            payload = response.json()
            rows = payload.get("values", [])
            width = max((len(row) for row in rows), default=0)
            padded = [row + [""] * (width - len(row)) for row in rows]
            payload["values"] = [list(column) for column in zip(*padded, strict=True)]
            payload["majorDimension"] = "COLUMNS"
            response._content = json.dumps(payload).encode()
        return response


def notebook_refresh(
    client: gspread.Client,
    spreadsheet_id: str,
    db_dic_list: list[dict[str, Any]],
    sleep: Callable[[float], None],
) -> None:
    """The notebook's two Google Sheets cells, with its client and sleep handed in."""
    ws = client.open_by_key(spreadsheet_id).worksheet(WORKSHEET)
    ws_headers = ws.row_values(1)
    query_headers = db_dic_list[0].keys()
    add_headers = [header for header in query_headers if header not in ws_headers]
    if add_headers:
        ws_headers.extend(add_headers)
        ws.update(range_name="1:1", values=[ws_headers], value_input_option="USER_ENTERED")
    dates_in_ws = ws.col_values(ws_headers.index("study_date") + 1)
    for i, dic in enumerate(db_dic_list):
        if i > 0 and i % REQUESTS_PER_MIN_LIMIT == 0:
            sleep(SLEEP_BETWEEN_REQUESTS_SEC)
        row_to_add = [dic.get(key) for key in ws_headers]
        row_date = dic["study_date"]
        if row_date in dates_in_ws:
            ws.update(
                range_name=f"A{dates_in_ws.index(row_date) + 1}",
                values=[row_to_add],
                value_input_option="USER_ENTERED",
            )
        else:
            ws.append_row(row_to_add, value_input_option="USER_ENTERED")


@dataclass(frozen=True)
class Refresh:
    """One timed refresh: seconds (notebook sleeps excluded), requests, sleeps, peak RSS."""

    seconds: float
    requests: int
    sleeps: int
    peak_rss_mb: float


class Figure:
    """The fake Sheets server and a key for it, shared by every refresh."""

    def __init__(self, fake: FakeGoogleSheets, key_file: Path) -> None:
        self.fake = fake
        self.key_file = key_file

    def _new_spreadsheet(self) -> str:
        spreadsheet_id = "bench-" + uuid.uuid4().hex[:12]
        self.fake.add_spreadsheet(spreadsheet_id, (WORKSHEET,))
        return spreadsheet_id

    def _check(self, spreadsheet_id: str, expected: list[MetricsRow]) -> None:
        """The sheet must show the metrics afterwards, or the count would mean nothing."""
        grid = self.fake.shown_grid(spreadsheet_id, WORKSHEET)
        shown = [tuple(row[: len(METRIC_COLUMNS)]) for row in grid[1:]]
        if grid[0][: len(METRIC_COLUMNS)] != list(METRIC_COLUMNS) or shown != expected:
            raise BenchmarkError(f"{spreadsheet_id}: the sheet does not show the metrics")

    def _timed(self, refresh: Callable[[], int]) -> Refresh:
        before = len(self.fake.sheet_requests)
        with peak_rss_of_this_process() as rss:
            began = time.perf_counter()
            sleeps = refresh()
            seconds = time.perf_counter() - began
        requests = len(self.fake.sheet_requests) - before
        return Refresh(seconds, requests, sleeps, rss.peak_mb)

    def bamboo(self, days: int, scenario: str) -> Refresh:
        spreadsheet_id = self._new_spreadsheet()
        dashboard = GoogleSheetsDashboard(
            credentials_file=str(self.key_file),
            spreadsheet_id=spreadsheet_id,
            worksheet_name=WORKSHEET,
            api_url=self.fake.base_url,
        )
        final = metrics(days, changed=scenario == "one day changed")
        if scenario == "one day changed":
            dashboard.refresh(metrics(days))  # untimed: bring the sheet up to date first

        def refresh() -> int:
            dashboard.refresh(final)
            return 0

        result = self._timed(refresh)
        self._check(spreadsheet_id, final)
        return result

    def _notebook_client(self) -> gspread.Client:
        """What the notebook's `GoogleSpreadsheet` builds each run: key, client, new token."""
        credentials = Credentials.from_service_account_file(str(self.key_file), scopes=SCOPES)
        return gspread.Client(credentials, session=_Redirected(credentials, self.fake.base_url))

    def notebook(self, days: int, scenario: str) -> Refresh:
        spreadsheet_id = self._new_spreadsheet()
        final = metrics(days, changed=scenario == "one day changed")
        if scenario == "one day changed":
            client = self._notebook_client()
            notebook_refresh(client, spreadsheet_id, _dicts(metrics(days)), lambda _: None)
        slept: list[float] = []

        def refresh() -> int:
            client = self._notebook_client()
            notebook_refresh(client, spreadsheet_id, _dicts(final), slept.append)
            return len(slept)

        result = self._timed(refresh)
        self._check(spreadsheet_id, final)
        return result


def _dicts(rows: list[MetricsRow]) -> list[dict[str, Any]]:
    """Rows as the notebook's DictCursor gave them, keyed by column name."""
    return [dict(zip(METRIC_COLUMNS, row, strict=True)) for row in rows]


def main() -> str:
    repeats = env_int("BENCH_DASHBOARD_REPEATS", 3)
    progress(f"dashboard_requests: {DAY_COUNTS} days, {repeats} rounds")
    with (
        scratch_dir("dashboard") as scratch,
        FakeGoogleSheets(strict_grid=True, max_lifetime_seconds=3600) as fake,
    ):
        figure = Figure(fake, fake.write_service_account_file(scratch / "service-account.json"))
        variants: list[tuple[str, Callable[[], Refresh]]] = []
        for days in DAY_COUNTS:
            for scenario in SCENARIOS:
                for who in ("bamboo", "notebook"):
                    run = getattr(figure, who)
                    variants.append(
                        (f"{who}|{scenario}|{days}", lambda r=run, d=days, s=scenario: r(d, s))
                    )
        results = alternate(variants, repeats)
    table = _table(results)
    print(table, flush=True)
    return table


def _table(results: dict[str, list[Refresh]]) -> str:
    rows: list[Row] = []
    mismatches: list[str] = []
    for days in DAY_COUNTS:
        for scenario in SCENARIOS:
            analytic, sleeps = notebook_analytic(days, scenario)
            notebook_runs = results[f"notebook|{scenario}|{days}"]
            bamboo_runs = results[f"bamboo|{scenario}|{days}"]
            measured = {run.requests for run in notebook_runs}
            if measured != {analytic} or {run.sleeps for run in notebook_runs} != {sleeps}:
                mismatches.append(f"{days} days, {scenario}: replayed {measured}, {analytic}")
            notebook_seconds = median([run.seconds for run in notebook_runs]) + sleeps * float(
                SLEEP_BETWEEN_REQUESTS_SEC
            )
            bamboo_seconds = median([run.seconds for run in bamboo_runs])
            bamboo_requests = max(run.requests for run in bamboo_runs)
            rows.append(
                Row(
                    f"bamboo, {scenario}",
                    days,
                    bamboo_seconds,
                    max(run.peak_rss_mb for run in bamboo_runs),
                    ratio(bamboo_seconds, notebook_seconds),
                    {
                        "requests": str(bamboo_requests),
                        "requests vs notebook": f"{bamboo_requests / analytic:.3f}",
                    },
                )
            )
            rows.append(
                Row(
                    f"notebook, {scenario}",
                    days,
                    notebook_seconds,
                    max(run.peak_rss_mb for run in notebook_runs),
                    1.0,
                    {
                        "requests": str(analytic),
                        "requests vs notebook": "1.000",
                        "notebook sleeps (s)": str(sleeps * SLEEP_BETWEEN_REQUESTS_SEC),
                    },
                )
            )
    check = (
        "matches the replay of its calls with gspread against the fake in every case"
        if not mismatches
        else "DIFFERS from the replay: " + "; ".join(mismatches)
    )
    notes = [
        "- requests: Sheets API calls (OAuth token calls excluded: one per refresh for both); "
        "Bamboo's include the read-back its check compares and the upkeep of its chart",
        "- notebook requests are analytic: 2 to open (open_by_key + worksheet lookup) + header "
        "read + header write (empty sheet only) + date-column read + 1 write per day; this "
        + check,
        f"- notebook seconds = median of its replayed requests + {SLEEP_BETWEEN_REQUESTS_SEC} s "
        f"per {REQUESTS_PER_MIN_LIMIT} writes (counted, not slept)",
        "- seconds: median of "
        f"{len(next(iter(results.values())))} runs against a local fake (no network latency: "
        "Google adds a round trip per request); ratio = seconds / the notebook's seconds",
        "- peak RSS: the benchmark process (the fake server runs in it too)",
    ]
    return format_table(
        "Figure 2 — Sheets API requests per dashboard refresh",
        rows,
        count_label="days",
        rate_label="days/s",
        ratio_label="ratio vs notebook",
        extra_columns=["requests", "requests vs notebook", "notebook sleeps (s)"],
        notes=notes,
    )


if __name__ == "__main__":
    main()
