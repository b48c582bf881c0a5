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
Target: at most 2 requests per Bamboo refresh (one read, one write), whatever the days.

    python -m benchmarks.dashboard_requests
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import gspread
from google.oauth2.service_account import Credentials

from bamboo_assets.core.metrics import METRIC_COLUMNS, DayMetrics
from bamboo_assets.dashboard.sheets import GoogleSheetsDashboard
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
    verdict,
)
from benchmarks.notebook_baseline import (
    DASHBOARD_SCOPES,
    REQUESTS_PER_MIN_LIMIT,
    SLEEP_BETWEEN_REQUESTS_SEC,
    SheetsSession,
)

DAY_COUNTS = (1, 30, 365)
LAST_DAY = date(2025, 6, 30)
WORKSHEET = "Sheet1"
SCENARIOS = ("empty sheet", "one day changed")
TARGET_REQUESTS = 2  # per Bamboo refresh, at most, whatever the number of days


def metrics(days: int, changed: bool = False) -> list[DayMetrics]:
    """`days` days of plausible metrics ending LAST_DAY; `changed` alters the last day."""
    rows: list[DayMetrics] = []
    for index in range(days):
        day = LAST_DAY - timedelta(days=days - 1 - index)
        rows.append(DayMetrics(day.isoformat(), 8000 + index, 3000 + index, 400 + index % 50, 6))
    if changed:
        last = rows[-1]
        rows[-1] = last._replace(
            attempts_per_day_total=last.attempts_per_day_total + 17,
            correct_attempts_per_day=last.correct_attempts_per_day + 5,
        )
    return rows


def notebook_analytic(days: int, scenario: str) -> tuple[int, int]:
    """(requests, sleeps) the notebook makes, from its code and gspread 6's calls.

    Opening is two metadata GETs (`open_by_key`, then `worksheet(name)`); then the header
    row is read, written only when columns are missing (an empty sheet), the date column is
    read, and every day in the table is written by one update or append_row.
    """
    header_write = 1 if scenario == "empty sheet" else 0
    return 2 + 1 + header_write + 1 + days, (days - 1) // REQUESTS_PER_MIN_LIMIT


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

    def _check(self, spreadsheet_id: str, expected: list[DayMetrics]) -> None:
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
        key_file, scopes = str(self.key_file), DASHBOARD_SCOPES
        credentials = Credentials.from_service_account_file(key_file, scopes=scopes)
        return gspread.Client(credentials, session=SheetsSession(credentials, self.fake.base_url))

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


def _dicts(rows: list[DayMetrics]) -> list[dict[str, Any]]:
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
    most = max(
        run.requests for name, runs in results.items() if name.startswith("bamboo|") for run in runs
    )
    notes = [
        f"- Bamboo's requests per refresh: at most {most} for 1 to {DAY_COUNTS[-1]} days "
        f"(target <= {TARGET_REQUESTS}): {verdict(most, TARGET_REQUESTS, at_most=True)}",
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
