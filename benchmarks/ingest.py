"""Figure 1: one day-partition of a million records, API answer → `public.solutions`.

Variants, alternating within each round:

- `dagster fixed cost (empty day)`: the Bamboo command for a day whose answer is `[]`;
- `bamboo`: `python -m dagster asset materialize ... --select
  raw_attempts,validated_attempts,solutions_table --partition DAY` as a subprocess against
  FakeStatisticsApi and a fresh database, its fixed cost subtracted;
- `bamboo 0.1.0` (and its own empty day): the same command with the code of the v0.1.0 tag,
  taken from git history and put first on PYTHONPATH, so a change that makes the big day
  slower than the release shows up;
- `notebook`: benchmarks/notebook_baseline.py (the notebook's approach) as a subprocess;
- `database floor`: in-process psycopg 3, COPY of the already-validated rows into a TEMP
  table and one `INSERT ... SELECT ... ON CONFLICT DO NOTHING`: the least any loader must
  spend in PostgreSQL for this day.

Each run gets a fresh database. Afterwards the rows Bamboo and the notebook left are compared
by a digest streamed out of PostgreSQL; the note lines give each target with its
verdict, including the share of the answer's bytes that Bamboo keeps on disk.

    BENCH_RECORDS=200000 BENCH_REPEATS=1 python -m benchmarks.ingest   # smoke test
    python -m benchmarks.ingest                                        # 1,000,000 x 3
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from bamboo_assets.core.simulator import simulated_answer
from bamboo_assets.core.validation import judge_answer
from bamboo_assets.resources.statistics_api import day_window
from bamboo_assets.warehouse.connection import PostgresWarehouse
from benchmarks.common import (
    CHUNK_BYTES,
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
    peak_rss_of_this_process,
    postgres_server,
    progress,
    ratio,
    scratch_dir,
    serve_answers,
    verdict,
)
from benchmarks.runs import rows_digest, run_measured, solutions_count, step_seconds

DAY = date(2025, 3, 4)  # a weekday in 2025: answers without lis_outcome_service_url
EMPTY_DAY = date(2025, 3, 5)  # answered `[]`: what Dagster costs with no data
SELECTION = "raw_attempts,validated_attempts,solutions_table"
FIXED, BAMBOO, NOTEBOOK = "dagster fixed cost (empty day)", "bamboo", "notebook"
FLOOR = "database floor"
OLD_FIXED, OLD = "bamboo 0.1.0 fixed cost (empty day)", "bamboo 0.1.0"
# The release to compare with; the commit is the tag's, for clones that lost the tag.
OLD_REFS = ("v0.1.0", "95cf39ff66316c57d864d2a634feb0674805a177")
TARGET_SPEEDUP = 5.0  # notebook seconds / bamboo seconds, at least
STRETCH_SPEEDUP = 10.0
TARGET_OVER_FLOOR = 1.0  # bamboo seconds / database floor seconds, at most: beat the floor
TARGET_FIXED_SECONDS = 8.0
TARGET_PEAK_MB = 200.0  # largest process of the bamboo command
TARGET_STORED_SHARE = 0.25  # bytes BAMBOO_HOME keeps of the day's answer / the answer's bytes
TARGET_OVER_OLD = 1.0  # bamboo seconds / bamboo 0.1.0 seconds, at most

STAGING = """
CREATE TEMP TABLE staging (
    day DATE, position INT, user_id TEXT, oauth_consumer_key TEXT, lis_result_sourcedid TEXT,
    lis_outcome_service_url TEXT, is_correct INT, attempt_type TEXT, created_at TIMESTAMP
) ON COMMIT DROP
"""
FLOOR_INSERT = """
INSERT INTO public.solutions (user_id, oauth_consumer_key, lis_result_sourcedid,
    lis_outcome_service_url, is_correct, attempt_type, created_at)
SELECT user_id, oauth_consumer_key, lis_result_sourcedid, lis_outcome_service_url,
    is_correct, attempt_type, created_at
FROM staging
ON CONFLICT (user_id, created_at) DO NOTHING
"""


@dataclass
class Run:
    """One run of one variant: its time, peak RSS, the database it filled and its row count."""

    seconds: float
    peak_rss_mb: float
    dsn: str
    rows: int
    steps: dict[str, float] = field(default_factory=dict)
    stored_bytes: int = 0  # what BAMBOO_HOME/raw keeps of the answer (bamboo only)


@dataclass
class Bench:
    """What every run of the figure shares."""

    uri: str
    scratch: Path
    api_url: str
    answer: Path
    prepared: Path
    dagster_home: Path
    old_code: Path
    latest: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    def workdir(self, name: str) -> Path:
        self.counter += 1
        path = self.scratch / f"{name}-{self.counter}"
        path.mkdir()
        return path

    def keep_latest(self, variant: str, dsn: str) -> None:
        """Keep only each variant's newest database: a million-row database is ~0.5 GB."""
        previous = self.latest.get(variant)
        self.latest[variant] = dsn
        if previous:
            drop_database(self.uri, previous)


def prepare(scratch: Path, records: int) -> tuple[Path, Path, int]:
    """The day's answer as the API sends it, and its valid rows as COPY text (untimed)."""
    answer, prepared = scratch / "answer.json", scratch / "prepared.copy"
    began = time.perf_counter()
    with answer.open("wb") as out:
        for chunk in simulated_answer(DAY, records):
            out.write(chunk)
    progress(
        f"  answer: {records:,} records, {answer.stat().st_size / 2**20:,.0f} MB "
        f"in {time.perf_counter() - began:.1f}s"
    )
    with answer.open("rb") as source, prepared.open("w") as out:
        judged = judge_answer(source, DAY, ZoneInfo("UTC"), out.write, io.StringIO())
    if judged.extracted != records:
        raise BenchmarkError(f"the answer holds {judged.extracted} records, not {records}")
    return answer, prepared, judged.valid


def old_release(scratch: Path) -> Path:
    """Bamboo 0.1.0's files, from git history, in a folder to put first on PYTHONPATH."""
    target = scratch / "bamboo-0.1.0"
    target.mkdir()
    for ref in OLD_REFS:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref], capture_output=True, check=False
        )
        if archive.returncode == 0:
            subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
            break
    else:
        raise BenchmarkError(
            f"neither {' nor '.join(OLD_REFS)} is in {REPO}'s git history (a shallow clone?): "
            "fetch the tag (git fetch --tags --unshallow) to compare with Bamboo 0.1.0"
        )
    found = subprocess.run(
        [sys.executable, "-c", "import bamboo_assets; print(bamboo_assets.__file__)"],
        env=base_env(PYTHONPATH=str(target)), cwd=scratch, capture_output=True, text=True,
    )  # fmt: skip
    if not found.stdout.startswith(str(target)):
        raise BenchmarkError(f"PYTHONPATH={target} does not shadow bamboo_assets: {found}")
    return target


def run_bamboo(bench: Bench, day: date, variant: str, code: Path | None = None) -> Run:
    """The Dagster CLI command, timed from start to exit, on a fresh database; with `code`,
    the Bamboo found there (0.1.0) instead of the installed one."""
    dsn = create_database(bench.uri, "bamboo")
    home = bench.workdir("bamboo-home")
    env = base_env(
        ITRESUME_URL=bench.api_url,
        ITRESUME_CLIENT=CLIENT,
        ITRESUME_CLIENT_KEY=CLIENT_KEY,
        BAMBOO_DB_DSN=dsn,
        BAMBOO_HOME=str(home),
        BAMBOO_TIMEZONE="UTC",
        BAMBOO_START_DATE="2024-01-01",
        DAGSTER_HOME=str(bench.dagster_home),
        **({"PYTHONPATH": str(code)} if code else {}),
    )
    command = [
        sys.executable, "-m", "dagster", "asset", "materialize",
        "-m", "bamboo_assets.definitions", "--select", SELECTION, "--partition", day.isoformat(),
    ]  # fmt: skip
    checkpoint(bench.uri)
    # Not the repository: the Dagster CLI loads a `.env` from its working directory, over
    # the variables set here.
    measured = run_measured(command, env=env, logs=home / "logs", cwd=home)
    if ("bamboo_pipeline" in measured.stderr) == bool(code):  # the new code's only step
        raise BenchmarkError(f"{variant} did not run the Bamboo it was meant to")
    rows = solutions_count(dsn)
    stored = sum(path.stat().st_size for path in (home / "raw").rglob("*") if path.is_file())
    shutil.rmtree(home)
    bench.keep_latest(variant, dsn)
    steps = step_seconds(measured.stderr)
    return Run(measured.seconds, measured.peak_rss_mb, dsn, rows, steps, stored)


def run_notebook(bench: Bench) -> Run:
    """benchmarks/notebook_baseline.py in its own process, on a fresh database."""
    dsn = create_database(bench.uri, "notebook")
    work = bench.workdir("notebook")
    start, end = day_window(DAY)
    command = [
        sys.executable, "-m", "benchmarks.notebook_baseline",
        "--url", bench.api_url, "--client", CLIENT, "--client-key", CLIENT_KEY,
        "--start", start, "--end", end, "--dsn", dsn, "--log-file", str(work / "etl.log"),
    ]  # fmt: skip
    checkpoint(bench.uri)
    measured = run_measured(command, env=base_env(), logs=work, cwd=REPO)
    counts = json.loads(measured.stdout)
    rows = solutions_count(dsn)
    if counts["inserted"] != rows:
        raise BenchmarkError(f"the notebook says it inserted {counts['inserted']}, found {rows}")
    shutil.rmtree(work)
    bench.keep_latest(NOTEBOOK, dsn)
    return Run(measured.seconds, measured.peak_rss_mb, dsn, rows)


def run_floor(bench: Bench) -> Run:
    """COPY + INSERT of the prepared rows; the schema is created before the clock starts."""
    dsn = create_database(bench.uri, "floor")
    with PostgresWarehouse(dsn=dsn).connect():
        pass  # Bamboo's schema: public.solutions with its created_at index, as Bamboo loads it
    checkpoint(bench.uri)
    with (
        psycopg.connect(dsn) as conn,
        peak_rss_of_this_process() as rss,
        bench.prepared.open("rb") as prepared,
    ):
        began = time.perf_counter()
        with conn.transaction():
            conn.execute(STAGING)
            with conn.cursor().copy("COPY staging FROM STDIN") as copy:
                while chunk := prepared.read(CHUNK_BYTES):
                    copy.write(chunk)
            copied = time.perf_counter()
            rows = conn.execute(FLOOR_INSERT).rowcount
        seconds = time.perf_counter() - began
    bench.keep_latest(FLOOR, dsn)
    steps = {"COPY": copied - began, "INSERT + commit": began + seconds - copied}
    return Run(seconds, rss.peak_mb, dsn, rows, steps)


def _two(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _runs_note(name: str, runs: list[Run]) -> str:
    """Each run's seconds and, where known, the median of each of its parts."""
    note = f"- {name} runs (s): " + ", ".join(f"{run.seconds:.2f}" for run in runs)
    parts = list(dict.fromkeys(part for run in runs for part in run.steps))
    if parts:
        medians = {p: median([run.steps[p] for run in runs if p in run.steps]) for p in parts}
        note += "; parts (median s): " + ", ".join(f"{p} {medians[p]:.2f}" for p in parts)
    return note


def main() -> str:
    records = env_int("BENCH_RECORDS", 1_000_000)
    repeats = env_int("BENCH_REPEATS", 3)
    progress(f"ingest: {records:,} records, {repeats} rounds")
    with scratch_dir("ingest") as scratch, postgres_server(scratch / "pgdata") as uri:
        answer, prepared, valid = prepare(scratch, records)
        old_code = old_release(scratch)
        dagster_home = scratch / "dagster"
        dagster_home.mkdir()
        shutil.copy(REPO / "deploy" / "local" / "dagster.yaml", dagster_home / "dagster.yaml")
        with serve_answers({DAY: answer}, max_lifetime_seconds=4 * 3600) as api:
            bench = Bench(uri, scratch, api.url, answer, prepared, dagster_home, old_code)
            progress("  warm-up (untimed): each empty-day command once, for cold imports")
            run_bamboo(bench, EMPTY_DAY, "warm-up")
            run_bamboo(bench, EMPTY_DAY, "warm-up 0.1.0", old_code)
            results = alternate(
                [
                    (FIXED, lambda: run_bamboo(bench, EMPTY_DAY, FIXED)),
                    (BAMBOO, lambda: run_bamboo(bench, DAY, BAMBOO)),
                    (OLD_FIXED, lambda: run_bamboo(bench, EMPTY_DAY, OLD_FIXED, old_code)),
                    (OLD, lambda: run_bamboo(bench, DAY, OLD, old_code)),
                    (NOTEBOOK, lambda: run_notebook(bench)),
                    (FLOOR, lambda: run_floor(bench)),
                ],
                repeats,
            )
        progress("  comparing the rows Bamboo, 0.1.0, the notebook and the floor left")
        compared = (BAMBOO, OLD, NOTEBOOK, FLOOR)
        digests = {name: rows_digest(bench.latest[name]) for name in compared}
        for dsn in bench.latest.values():
            drop_database(uri, dsn)
        answer_bytes = answer.stat().st_size
    table = _table(records, answer_bytes, valid, results, digests)
    print(table, flush=True)
    return table


def _table(
    records: int,
    answer_bytes: int,
    valid: int,
    results: dict[str, list[Run]],
    digests: dict[str, str],
) -> str:
    def seconds(name: str) -> float:
        return median([run.seconds for run in results[name]])

    def peak(name: str) -> float:
        return max(run.peak_rss_mb for run in results[name])

    def net(name: str, fixed_name: str) -> float | None:
        """The median minus the fixed cost; at small volumes the difference can drown in
        run-to-run noise, and then it is not a figure."""
        gross, fixed = seconds(name), seconds(fixed_name)
        return gross - fixed if gross > fixed else None

    def step_net(name: str, fixed_name: str) -> float:
        """The same net time read from the logged step timings: less exposed to the noise of
        process start-up, which the subtraction of medians carries twice."""
        steps = median([sum(run.steps.values()) for run in results[name]])
        return steps - median([sum(run.steps.values()) for run in results[fixed_name]])

    fixed, notebook, floor = seconds(FIXED), seconds(NOTEBOOK), seconds(FLOOR)
    bamboo, old = net(BAMBOO, FIXED), net(OLD, OLD_FIXED)
    rows = [
        Row(FIXED, 0, fixed, peak(FIXED), None),
        Row(BAMBOO, records, bamboo, peak(BAMBOO), ratio(bamboo, notebook)),
        Row(OLD_FIXED, 0, seconds(OLD_FIXED), peak(OLD_FIXED), None),
        Row(OLD, records, old, peak(OLD), ratio(old, notebook)),
        Row(NOTEBOOK, records, notebook, peak(NOTEBOOK), 1.0),
        Row(FLOOR, records, floor, peak(FLOOR), ratio(floor, notebook)),
    ]
    speedup = ratio(notebook, bamboo)
    over_floor = ratio(bamboo, floor)
    over_old = ratio(bamboo, old)
    stored = max(run.stored_bytes for run in results[BAMBOO])
    steps, old_steps = step_net(BAMBOO, FIXED), step_net(OLD, OLD_FIXED)
    stored_share = stored / answer_bytes
    loaded = {
        name: {run.rows for run in runs}
        for name, runs in results.items()
        if name not in (FIXED, OLD_FIXED)
    }
    counts_ok = all(found == {valid} for found in loaded.values())
    same = digests[BAMBOO] == digests[NOTEBOOK]

    def same_as_bamboo(name: str) -> str:
        return "same" if digests[name] == digests[BAMBOO] else "DIFFERENT"

    notes = [
        f"- notebook / bamboo = {_two(speedup)} (target >= {TARGET_SPEEDUP:g}): "
        f"{verdict(speedup, TARGET_SPEEDUP, at_most=False)}; stretch >= {STRETCH_SPEEDUP:g}: "
        f"{verdict(speedup, STRETCH_SPEEDUP, at_most=False)}",
        f"- bamboo / database floor = {_two(over_floor)} (target <= {TARGET_OVER_FLOOR:g}): "
        f"{verdict(over_floor, TARGET_OVER_FLOOR, at_most=True)}",
        f"- bamboo / bamboo 0.1.0 = {_two(over_old)} (target <= {TARGET_OVER_OLD:g}: the "
        f"million-record day is not slower than 0.1.0): "
        f"{verdict(over_old, TARGET_OVER_OLD, at_most=True)}",
        f"- cross-check from the logged step timings: bamboo's three assets take {steps:.2f}s "
        f"more than on the empty day: notebook / that = {_two(ratio(notebook, steps))}, "
        f"that / database floor = {_two(ratio(steps, floor))}; 0.1.0's three Dagster steps "
        f"{old_steps:.2f}s, bamboo / 0.1.0 by this measure = {_two(ratio(steps, old_steps))}",
        f"- bamboo peak RSS = {peak(BAMBOO):.0f} MB (target <= {TARGET_PEAK_MB:g} MB): "
        f"{verdict(peak(BAMBOO), TARGET_PEAK_MB, at_most=True)}",
        f"- raw answer kept in BAMBOO_HOME: {stored / MB:,.1f} MB of {answer_bytes / MB:,.1f} MB "
        f"= {stored_share:.3f} (target <= {TARGET_STORED_SHARE:g}): "
        f"{verdict(stored_share, TARGET_STORED_SHARE, at_most=True)}",
        f"- dagster fixed cost = {fixed:.2f}s (target <= {TARGET_FIXED_SECONDS:g}s): "
        f"{verdict(fixed, TARGET_FIXED_SECONDS, at_most=True)}",
        f"- same rows: {'yes' if same else 'no'} (bamboo {digests[BAMBOO][:16]}, "
        f"notebook {digests[NOTEBOOK][:16]}; bamboo 0.1.0 {same_as_bamboo(OLD)}, "
        f"database floor {same_as_bamboo(FLOOR)})",
        f"- rows in public.solutions after every run: {valid:,} expected, "
        + ("all equal" if counts_ok else f"MISMATCH {loaded}"),
        f"- seconds are medians of {len(results[BAMBOO])} runs; bamboo = its command's median "
        f"({seconds(BAMBOO):.2f}s) minus the fixed cost, bamboo 0.1.0 = its command's median "
        f"({seconds(OLD):.2f}s) minus its own; ratio = seconds / notebook seconds",
        "- peak RSS: largest single process of the subprocess tree (both bamboos, notebook), "
        "the benchmark process itself (database floor); PostgreSQL's own processes excluded",
        *(_runs_note(name, runs) for name, runs in results.items()),
    ]
    return format_table(
        f"Figure 1 — ingest one day ({records:,} records)",
        rows,
        ratio_label="ratio vs notebook",
        notes=notes,
    )


if __name__ == "__main__":
    main()
