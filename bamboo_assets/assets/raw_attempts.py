"""raw_attempts: the statistics API's answer for each day, kept byte for byte."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from bamboo_assets.assets.run import DaysRun, StepResult
from bamboo_assets.core.answer import MalformedAnswer
from bamboo_assets.core.refetch import is_final, late_records
from bamboo_assets.resources.raw_answers import UnusableAnswer, read_answer
from bamboo_assets.resources.statistics_api import Download, StatisticsApiError
from bamboo_assets.warehouse import refetches

REFETCH_TAG = "bamboo/refetch"
# A fetch this slow (the real API takes 20-50 s a day) or retried gets its own log line; the
# others are summed up in one line, since each line is an event in Dagster's storage.
SLOW_SECONDS = 1.0

SPEC = dg.AssetSpec(
    "raw_attempts",
    description=(
        "The statistics API's answer for each day, kept byte for byte in "
        "`BAMBOO_HOME/raw/<day>.json.zst` (zstd; `zstdcat` prints it). One GET per day for "
        "`[day 00:00:00.000000, day 23:59:59.999999]`; the days of a range are fetched in "
        "parallel (ITRESUME_PARALLEL_REQUESTS). An answer fetched more than BAMBOO_REFETCH_DAYS "
        "days after its day ended is final and reused without calling the API, unless the run "
        f"asks for a refetch (config `refetch`, or tag `{REFETCH_TAG}=true`). A day that cannot "
        "be fetched, or whose answer is not a JSON list (set aside in `raw/failed/`), fails "
        "alone: the other days go on."
    ),
    kinds={"api", "file"},
    skippable=True,
)


@dataclass(frozen=True)
class DayFetch:
    """What happened to one day: `download` is None when the stored answer was reused;
    `late` is (new, no longer returned) records when an earlier answer was replaced."""

    day: date
    fetched_at: datetime
    download: Download | None = None
    late: tuple[int, int] | None = None

    def metadata(self, path: Path) -> dict[str, object]:
        new, gone = self.late or (None, None)
        return {
            "answer": "fetched" if self.download else "reused (final)",
            "fetched_at": self.fetched_at.isoformat(timespec="seconds"),
            "bytes": self.download.bytes if self.download else path.stat().st_size,
            **({"new_records": new, "gone_records": gone} if self.late else {}),
            "path": dg.MetadataValue.path(str(path)),
        }


def run(days_run: DaysRun) -> StepResult:
    """Fetch (or reuse) the answer of every remaining day; a day that fails is recorded."""
    api, answers, settings = days_run.statistics_api, days_run.raw_answers, days_run.settings
    log = days_run.log

    def fetch(day: date) -> DayFetch:
        fetched_at = answers.fetched_at(day)
        final = fetched_at and is_final(day, fetched_at, settings.refetch_days, settings.tz)
        if final and not days_run.refetch:
            return DayFetch(day, fetched_at)
        download = api.download(day, answers.incoming_path(day), log.warning)
        received = datetime.now(UTC)
        previous = answers.answer_path(day)
        late = _late_records(previous, download.path) if previous.exists() else None
        answers.keep(day, download.path)
        answers.mark_fetched(day, received)
        if download.seconds >= SLOW_SECONDS or download.attempts > 1:
            log.info(
                f"{day}: {download.bytes:,} bytes in {download.seconds:.1f}s "
                f"({download.attempts} tries) from {api.describe()}"
                + (f"; {late[0]} new records, {late[1]} no longer returned" if late else "")
            )
        return DayFetch(day, received, download, late)

    days = days_run.ledger.remaining()
    fetches: list[DayFetch] = []
    with ThreadPoolExecutor(max_workers=max(1, api.parallel_requests)) as pool:
        for day, future in [(day, pool.submit(fetch, day)) for day in days]:
            try:
                fetches.append(future.result())
            except (StatisticsApiError, UnusableAnswer) as error:
                days_run.ledger.fail(day, SPEC.key.to_user_string(), str(error))
    late = {done.day: done.late for done in fetches if done.late}
    if late:
        refetches.record(days_run.conn, days_run.run_id, late)
    expired = answers.delete_expired(keep=days)
    if expired:
        log.info(
            f"deleted {len(expired)} raw answers stored more than "
            f"{answers.retention_days} days ago (BAMBOO_RAW_RETENTION_DAYS)"
        )
    reused = sum(1 for done in fetches if not done.download)
    log.info(f"raw_attempts: {len(fetches) - reused} days fetched, {reused} final answers reused")
    return StepResult(
        per_day={done.day: done.metadata(answers.answer_path(done.day)) for done in fetches},
        shared={"source": api.describe()},
    )


def _late_records(previous: Path, current: Path) -> tuple[int, int] | None:
    """New and vanished records of a day fetched again; None if either answer is unreadable
    (the day then fails on its own at validation)."""
    with read_answer(previous) as before, read_answer(current) as after:
        try:
            return late_records(before, after)
        except MalformedAnswer:
            return None
