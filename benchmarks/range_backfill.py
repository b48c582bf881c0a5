"""Figures 5 and 6: a quarter and a year of days in one range run, Bamboo vs the notebook.

What a backfill costs end to end: `python -m dagster asset materialize --select '*'
--partition-range FIRST...LAST`, one run for the whole range through all six assets (answers
from FakeStatisticsApi, one request a day; the dashboard in FakeGoogleSheets; the digest through
a local SMTP server), against the notebook's approach, which asks for the whole period in one
request and then loads, measures, writes the sheet and mails (benchmarks/notebook_baseline.py
--full). Bamboo runs twice: on a production Dagster instance (deploy/dagster.yaml, its storage
on PostgreSQL), which the targets apply to, and on the local one (deploy/local/dagster.yaml,
SQLite), for reference.

One record in 50 is rewritten into a shape Bamboo's fast path leaves to `json` and its rules:
keys in another order, `created_at` with a UTC offset, an extra key, `\\u` escapes, a null
`lti_user_id` (rejected). Each run gets a fresh warehouse database, BAMBOO_HOME, DAGSTER_HOME and
spreadsheet; afterwards the rows the variants left are compared by digest.

    BENCH_RANGE_DAYS=7 BENCH_RANGE_REPEATS=1 BENCH_YEAR_DAYS=14 \\
        python -m benchmarks.range_backfill               # smoke test
    python -m benchmarks.range_backfill [quarter] [year]  # 90 days x 3, 365 days x 1
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import yaml

from bamboo_assets.core.simulator import simulated_records
from bamboo_assets.resources.statistics_api import day_window
from bamboo_assets_tests.servers import FakeGoogleSheets, SmtpServer
from benchmarks.common import (
    CLIENT,
    CLIENT_KEY,
    MB,
    REPO,
    BenchmarkError,
    Row,
    alternate,
    base_env,
    checkpoint,
    create_database,
    drop_database,
    env_int,
    format_table,
    median,
    postgres_server,
    progress,
    ratio,
    scratch_dir,
    serve_answers,
    verdict,
)
from benchmarks.runs import rows_digest, run_measured, solutions_count, step_seconds

FIRST_DAY = date(2025, 1, 1)
PRODUCTION, LOCAL = "bamboo (production instance)", "bamboo (local instance)"
NOTEBOOK = "notebook"
# Bamboo's assets in lineage order, each with the notebook's part (notebook_baseline's
# `parts`) shown in its column.
STEP_COLUMNS = {
    "raw_attempts": "download",
    "validated_attempts": "transform",
    "solutions_table": "load",
    "daily_metrics": "metrics",
    "dashboard_sheet": "dashboard",
    "digest_email": "digest",
}
# Bamboo's deployments set both: one planned event per asset instead of one per asset and
# day, and events written to the instance in batches.
INSTANCE_ENV = {
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    "DAGSTER_EVENT_BATCH_SIZE": "500",
}
WORKSHEET = "Sheet1"
ODD_EVERY = 50
# No `is_correct: true`: the fast path reads it, and the notebook's load fails on it
# (PostgreSQL refuses a boolean among the integers of its VALUES list, docs/decisions.md).
ODD_SHAPES = ("keys reordered", "+03:00 offset", "extra key", "\\u escapes", "null lti_user_id")
TARGET_RATIO = 0.33  # bamboo (production instance) seconds / notebook seconds, at most
STRETCH_RATIO = 0.25
TARGET_PEAK_MB = 200.0
TIMEOUT_SECONDS = 4 * 3600.0
_USER_ID = re.compile(r'("lti_user_id": ")(.)')


@dataclass
class Run:
    """One run of one variant: time, largest process, rows loaded, each part's seconds."""

    seconds: float
    peak_rss_mb: float
    rows: int
    steps: dict[str, float]
    sleep_seconds: int = 0  # the notebook's Sheets quota sleeps, counted and not slept


@dataclass
class Bench:
    """What every run of a figure shares: the servers, the days and each variant's newest
    database (for the row digests)."""

    uri: str
    scratch: Path
    days: list[date]
    api_url: str
    sheets: FakeGoogleSheets
    key_file: Path
    smtp: SmtpServer
    latest: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    def workdir(self, name: str) -> Path:
        self.counter += 1
        path = self.scratch / f"{name}-{self.counter}"
        path.mkdir()
        return path

    def spreadsheet(self) -> str:
        self.counter += 1
        spreadsheet_id = f"bench-{self.counter}"
        self.sheets.add_spreadsheet(spreadsheet_id, (WORKSHEET,))
        return spreadsheet_id

    def keep_latest(self, variant: str, dsn: str) -> None:
        previous = self.latest.get(variant)
        self.latest[variant] = dsn
        if previous:
            drop_database(self.uri, previous)

    def check(self, variant: str, spreadsheet: str, days: list[date], mails: int) -> None:
        """The sheet shows every day and one digest went out, or the time would mean nothing."""
        grid = self.sheets.shown_grid(spreadsheet, WORKSHEET)
        shown = {str(row[0]) for row in grid[1:] if row}
        missing = sorted({day.isoformat() for day in days} - shown)
        if missing or len(self.smtp.messages) != mails + 1:
            raise BenchmarkError(
                f"{variant}: days missing from the sheet {missing[:3]}, or no mail"
            )


def odd(text: str, shape: int) -> str:
    """One record's JSON text in one of ODD_SHAPES; the row it gives does not change."""
    record = json.loads(text)
    if shape == 0:
        return json.dumps(dict(reversed(record.items())))
    if shape == 1:  # the same moment, written in another zone
        moment = datetime.fromisoformat(record["created_at"]) + timedelta(hours=3)
        record["created_at"] = f"{moment:%Y-%m-%dT%H:%M:%S.%f}+03:00"
    elif shape == 2:
        record["course_run"] = len(text)
    elif shape == 3:  # the same characters, escaped
        escaped = text.replace("Bamboo+", "\\u0042amboo+", 1)
        return _USER_ID.sub(lambda m: f"{m[1]}\\u{ord(m[2]):04x}", escaped, count=1)
    else:
        record["lti_user_id"] = None
    return json.dumps(record)


def write_answers(folder: Path, days: list[date], records: int) -> tuple[dict, int]:
    """Each day's answer as a file and the whole period's as one (the notebook's request);
    also how many records were rewritten."""
    answers: dict[date | tuple[date, date], Path] = {}
    rewritten = 0
    window = folder / "period.json"
    with window.open("w", encoding="utf-8") as period:
        period.write("[")
        for index, day in enumerate(days):
            rng = random.Random(f"odd:{day.isoformat()}")
            texts = list(simulated_records(day, records))
            for position in range(len(texts)):
                if rng.randrange(ODD_EVERY) == 0:
                    texts[position] = odd(texts[position], rng.randrange(len(ODD_SHAPES)))
                    rewritten += 1
            body = ", ".join(texts)
            answers[day] = folder / f"{day.isoformat()}.json"
            answers[day].write_text(f"[{body}]", encoding="utf-8")
            period.write((", " if index else "") + body)
        period.write("]")
    answers[(days[0], days[-1])] = window
    return answers, rewritten


def instance(uri: str, home: Path, production: bool) -> str | None:
    """DAGSTER_HOME's dagster.yaml, and its tables created before the clock starts, as a
    deployment's already are; the instance database's DSN for production."""
    if production:
        dsn = create_database(uri, "dagster")
        socket_dir = psycopg.conninfo.conninfo_to_dict(uri)["host"]
        name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
        url = f"postgresql+psycopg2://postgres@/{name}?host={socket_dir}"
        config["storage"] = {"postgres": {"postgres_url": url}}
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    else:
        dsn = None
        shutil.copy(REPO / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return dsn


def run_bamboo(bench: Bench, variant: str, days: list[date] | None = None) -> Run:
    """One range run of every asset, timed from start to exit, on fresh state."""
    days = days or bench.days
    dsn = create_database(bench.uri, "bamboo")
    home, dagster_home = bench.workdir("bamboo-home"), bench.workdir("dagster-home")
    instance_dsn = instance(bench.uri, dagster_home, production=variant == PRODUCTION)
    spreadsheet = bench.spreadsheet()
    env = base_env(
        ITRESUME_URL=bench.api_url,
        ITRESUME_CLIENT=CLIENT,
        ITRESUME_CLIENT_KEY=CLIENT_KEY,
        BAMBOO_DB_DSN=dsn,
        BAMBOO_HOME=str(home),
        BAMBOO_TIMEZONE="UTC",
        DAGSTER_HOME=str(dagster_home),
        GOOGLE_SERVICE_ACCOUNT_FILE=str(bench.key_file),
        DASHBOARD_SPREADSHEET_ID=spreadsheet,
        GOOGLE_SHEETS_API_URL=bench.sheets.base_url,
        SMTP_HOST=bench.smtp.host,
        SMTP_PORT=str(bench.smtp.port),
        SMTP_SECURITY="none",
        DIGEST_SENDER="etl@example.org",
        DIGEST_RECIPIENTS="lead@example.org",
        **INSTANCE_ENV,
    )
    command = [
        sys.executable, "-m", "dagster", "asset", "materialize", "-m", "bamboo_assets.definitions",
        "--select", "*", "--partition-range", f"{days[0]}...{days[-1]}",
    ]  # fmt: skip
    mails = len(bench.smtp.messages)
    checkpoint(bench.uri)
    # Not the repository: the Dagster CLI loads a `.env` from its working directory.
    measured = run_measured(command, env=env, logs=home / "logs", cwd=home, timeout=TIMEOUT_SECONDS)
    bench.check(variant, spreadsheet, days, mails)
    rows = solutions_count(dsn)
    shutil.rmtree(home)
    shutil.rmtree(dagster_home)
    if instance_dsn:
        drop_database(bench.uri, instance_dsn)
    bench.keep_latest(variant, dsn)
    return Run(measured.seconds, measured.peak_rss_mb, rows, step_seconds(measured.stderr))


def run_notebook(bench: Bench) -> Run:
    """benchmarks/notebook_baseline.py --full: one request for the whole period, then load,
    metrics, sheet and mail, in its own process on a fresh database."""
    dsn = create_database(bench.uri, "notebook")
    work = bench.workdir("notebook")
    spreadsheet = bench.spreadsheet()
    command = [
        sys.executable, "-m", "benchmarks.notebook_baseline",
        "--url", bench.api_url, "--client", CLIENT, "--client-key", CLIENT_KEY,
        "--start", day_window(bench.days[0])[0], "--end", day_window(bench.days[-1])[1],
        "--dsn", dsn, "--log-file", str(work / "etl.log"), "--full",
        "--spreadsheet-id", spreadsheet, "--sheets-key-file", str(bench.key_file),
        "--sheets-url", bench.sheets.base_url,
        "--smtp-host", bench.smtp.host, "--smtp-port", str(bench.smtp.port),
    ]  # fmt: skip
    mails = len(bench.smtp.messages)
    checkpoint(bench.uri)
    measured = run_measured(command, env=base_env(), logs=work, cwd=REPO, timeout=TIMEOUT_SECONDS)
    done = json.loads(measured.stdout)
    bench.check(NOTEBOOK, spreadsheet, bench.days, mails)
    rows = solutions_count(dsn)
    if done["inserted"] != rows:
        raise BenchmarkError(f"the notebook says it inserted {done['inserted']}, found {rows}")
    shutil.rmtree(work)
    bench.keep_latest(NOTEBOOK, dsn)
    parts = {asset: done["parts"][part] for asset, part in STEP_COLUMNS.items()}
    return Run(measured.seconds, measured.peak_rss_mb, rows, parts, done["quota_sleep_seconds"])


def figure(
    title: str, days: int, records: int, repeats: int, *, with_local: bool, notebook: bool
) -> str:
    """Generate the answers, run the variants alternating, compare the rows; the table."""
    period = [FIRST_DAY + timedelta(days=n) for n in range(days)]
    progress(f"range_backfill: {title}: {days} days x {records:,} records, {repeats} rounds")
    with (
        scratch_dir("range") as scratch,
        postgres_server(scratch / "pgdata") as uri,
        FakeGoogleSheets(strict_grid=True, max_lifetime_seconds=TIMEOUT_SECONDS * 2) as sheets,
        SmtpServer(max_lifetime_seconds=TIMEOUT_SECONDS * 2) as smtp,
    ):
        answers, rewritten = write_answers(scratch, period, records)
        period_bytes = answers[(period[0], period[-1])].stat().st_size
        progress(f"  answers: {period_bytes / MB:,.0f} MB, {rewritten:,} records rewritten")
        key_file = sheets.write_service_account_file(scratch / "service-account.json")
        with serve_answers(answers, max_lifetime_seconds=TIMEOUT_SECONDS * 2) as api:
            bench = Bench(uri, scratch, period, api.url, sheets, key_file, smtp)
            progress("  warm-up (untimed): a one-day run, for cold imports")
            run_bamboo(bench, LOCAL, period[:1])
            variants: list[tuple[str, Callable[[], Run]]] = [
                (PRODUCTION, lambda: run_bamboo(bench, PRODUCTION))
            ]
            if with_local:
                variants.append((LOCAL, lambda: run_bamboo(bench, LOCAL)))
            if notebook:
                variants.append((NOTEBOOK, lambda: run_notebook(bench)))
            results = alternate(variants, repeats)
        progress("  comparing the rows the variants left")
        digests = {name: rows_digest(bench.latest[name]) for name in results}
        for dsn in bench.latest.values():
            drop_database(uri, dsn)
    facts = [
        f"- answers: {days * records:,} records over {days} days, {rewritten:,} of them rewritten "
        f"(one in {ODD_EVERY}: {', '.join(ODD_SHAPES)}); Bamboo asks for each day, the notebook "
        f"for the period at once ({period_bytes / MB:,.0f} MB in one answer)",
    ]
    table = _table(title, days * records, results, digests, facts)
    print(table, flush=True)
    return table


def _table(
    title: str,
    records: int,
    results: dict[str, list[Run]],
    digests: dict[str, str],
    facts: list[str],
) -> str:
    def seconds(name: str) -> float | None:
        return median([run.seconds for run in results[name]]) if name in results else None

    def peak(name: str) -> float:
        return max(run.peak_rss_mb for run in results[name])

    notebook = seconds(NOTEBOOK)
    rows = [
        Row(
            name,
            records,
            seconds(name),
            peak(name),
            ratio(seconds(name), notebook),
            {
                step: f"{median([run.steps[step] for run in runs if step in run.steps]):.2f}"
                for step in STEP_COLUMNS
                if any(step in run.steps for run in runs)
            },
        )
        for name, runs in results.items()
    ]
    production = ratio(seconds(PRODUCTION), notebook)
    loaded = {name: sorted({run.rows for run in runs}) for name, runs in results.items()}
    counts = sorted({count for found in loaded.values() for count in found})
    notes = [
        f"- bamboo (production instance) / notebook = {_two(production)} (target <= "
        f"{TARGET_RATIO:g}): {verdict(production, TARGET_RATIO, at_most=True)}; stretch <= "
        f"{STRETCH_RATIO:g}: {verdict(production, STRETCH_RATIO, at_most=True)}",
        *(
            f"- {name} largest process = {peak(name):.0f} MB (target <= {TARGET_PEAK_MB:g} MB): "
            f"{verdict(peak(name), TARGET_PEAK_MB, at_most=True)}"
            for name in (PRODUCTION, LOCAL)
            if name in results
        ),
        _same_rows(digests),
        "- rows in public.solutions after every run: "
        + (f"{counts[0]:,}, all equal" if len(counts) == 1 else f"MISMATCH {loaded}"),
        *facts,
    ]
    if NOTEBOOK in results:
        sleeps = max(run.sleep_seconds for run in results[NOTEBOOK])
        notes.append(
            f"- the notebook's Sheets quota rule (65 s after every 50 writes) would have slept "
            f"{sleeps} s: counted, not slept, not in its seconds"
        )
    else:
        notes.append(
            "- notebook not run (BENCH_YEAR_NOTEBOOK=0): no ratio; its one request for the "
            "period holds every record in memory several times over"
        )
    notes += [
        "- step columns: seconds each asset logged (`<asset>: N days in Xs`); for the notebook "
        "its parts: download (GET + r.json()), transform (r.json(object_hook) + filter), load, "
        "metrics query, sheet writes, e-mail",
        f"- seconds are medians; ratio = seconds / notebook seconds; Bamboo runs with "
        f"{' and '.join(f'{k}={v}' for k, v in INSTANCE_ENV.items())}, as its deployments do",
        "- peak RSS: largest single process of the subprocess tree; PostgreSQL's own processes "
        "excluded",
        *(
            f"- {name} runs (s): {', '.join(f'{run.seconds:.2f}' for run in runs)}; "
            f"median {seconds(name):.2f}"
            for name, runs in results.items()
        ),
    ]
    return format_table(
        title, rows, ratio_label="ratio vs notebook", extra_columns=list(STEP_COLUMNS), notes=notes
    )


def _same_rows(digests: dict[str, str]) -> str:
    if len(digests) < 2:
        return "- same rows: not compared (one variant)"
    same = len(set(digests.values())) == 1
    listed = ", ".join(f"{name} {digest[:16]}" for name, digest in digests.items())
    return f"- same rows: {'yes' if same else 'NO'} ({listed})"


def _two(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def main(which: Sequence[str] = ("quarter", "year")) -> str:
    records = env_int("BENCH_RANGE_RECORDS_PER_DAY", 8_500)
    tables = []
    if "quarter" in which:
        days, repeats = env_int("BENCH_RANGE_DAYS", 90), env_int("BENCH_RANGE_REPEATS", 3)
        title = "Figure 5 — a quarter in one range run"
        tables.append(figure(title, days, records, repeats, with_local=True, notebook=True))
    if "year" in which:
        days, repeats = env_int("BENCH_YEAR_DAYS", 365), env_int("BENCH_YEAR_REPEATS", 1)
        notebook = env_int("BENCH_YEAR_NOTEBOOK", 1, minimum=0) > 0
        title = "Figure 6 — a year in one range run"
        tables.append(figure(title, days, records, repeats, with_local=False, notebook=notebook))
    return "\n\n".join(tables)


if __name__ == "__main__":
    main(sys.argv[1:] or ("quarter", "year"))
