"""API answer → validated attempts → `public.solutions`, one day-partition at a time."""

import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path

import dagster as dg
from pydantic import Field

from bamboo_assets import catalog, checks, sql
from bamboo_assets.answer import MalformedAnswer
from bamboo_assets.assets import run_days
from bamboo_assets.assets.common import daily_asset, metadata_table
from bamboo_assets.partitions import partition_days
from bamboo_assets.refetch import is_final, late_records
from bamboo_assets.resources.raw_answers import RawAnswerStore, UnusableAnswer, read_answer
from bamboo_assets.resources.statistics_api import Download, StatisticsApi, StatisticsApiError
from bamboo_assets.resources.warehouse import Warehouse
from bamboo_assets.settings import PipelineSettings
from bamboo_assets.validation import DayVerdict, first_days_copy, judge_answer

REFETCH_TAG = "bamboo/refetch"


class RawAttemptsConfig(dg.Config):
    """Run config of raw_attempts (the UI launchpad shows it under `ops: raw_attempts`)."""

    refetch: bool = Field(
        default=False,
        description="Call the API for every day of the run, also days whose stored answer is "
        "final (fetched more than BAMBOO_REFETCH_DAYS days after the day ended). The run tag "
        f"{REFETCH_TAG}=true does the same.",
    )


@dataclass(frozen=True)
class DayFetch:
    """What raw_attempts did for one day: `download` is None when the stored answer was reused
    (or the day failed, saying why in `reason`); `late` is (new, no longer returned) records
    when an earlier answer was replaced."""

    day: date
    fetched_at: datetime | None = None
    download: Download | None = None
    late: tuple[int, int] | None = None
    reason: str | None = None

    def row(self) -> dg.TableRecord:
        """The day's row in the asset page's `per_day` table (FETCH_COLUMNS)."""
        new, gone = self.late or (None, None)
        return dg.TableRecord(
            {
                "day": str(self.day),
                "answer": "failed" if self.reason else "fetched" if self.download else "reused",
                "fetched_at": self.fetched_at and self.fetched_at.isoformat(timespec="seconds"),
                "bytes": self.download and self.download.bytes,
                "new_records": new,
                "gone_records": gone,
                "reason": self.reason,
            }
        )


def _late_records(previous: Path, current: Path) -> tuple[int, int] | None:
    """New and vanished records of a day fetched again; None if either answer is unreadable
    (the day then fails on its own)."""
    with read_answer(previous) as before, read_answer(current) as after:
        try:
            return late_records(before, after)
        except MalformedAnswer:
            return None


FETCH_COLUMNS = dg.TableSchema(
    columns=[
        dg.TableColumn("day", "string"),
        dg.TableColumn("answer", "string", description="fetched, reused (final) or failed"),
        dg.TableColumn("fetched_at", "string", description="when the stored answer was fetched"),
        dg.TableColumn("bytes", "int"),
        dg.TableColumn("new_records", "int", description="not in the previous fetch"),
        dg.TableColumn("gone_records", "int", description="no longer returned; kept in DB"),
        dg.TableColumn("reason", "string", description="why the day failed"),
    ]
)


@daily_asset(
    kinds={"api", "file"},
)
def raw_attempts(
    context: dg.AssetExecutionContext,
    config: RawAttemptsConfig,
    statistics_api: StatisticsApi,
    raw_answers: RawAnswerStore,
    warehouse: Warehouse,
    pipeline_settings: PipelineSettings,
) -> dg.MaterializeResult:
    """The statistics API's answer for each day, kept byte for byte in `raw/<day>.json.zst`.

    One GET per day for `[day 00:00:00.000000, day 23:59:59.999999]`; the days of a backfill
    are fetched in parallel (ITRESUME_PARALLEL_REQUESTS). An answer fetched more than
    BAMBOO_REFETCH_DAYS days after its day ended is final and reused without calling the API,
    unless the run asks for a refetch (config `refetch`, or tag `bamboo/refetch=true`). A day
    that cannot be fetched, or whose answer is not a JSON list (set aside in `raw/failed/`),
    fails alone: the other days go on, and the run fails at its end naming it.
    """
    days = partition_days(context)
    refetch = config.refetch or context.run.tags.get(REFETCH_TAG) == "true"

    def fetch(day: date) -> DayFetch:
        fetched_at = raw_answers.fetched_at(day)
        if (
            fetched_at
            and not refetch
            and is_final(day, fetched_at, pipeline_settings.refetch_days, pipeline_settings.tz)
        ):
            return DayFetch(day, fetched_at)
        download = statistics_api.download(day, raw_answers.incoming_path(day), context.log.warning)
        received = datetime.now(UTC)
        previous = raw_answers.answer_path(day)
        late = _late_records(previous, download.path) if previous.exists() else None
        raw_answers.keep(day, download.path)
        raw_answers.mark_fetched(day, received)
        context.log.info(
            f"{day}: {download.bytes:,} bytes in {download.seconds:.1f}s "
            f"({download.attempts} tries) from {statistics_api.describe()}"
            + (f"; {late[0]} new records, {late[1]} no longer returned" if late else "")
        )
        return DayFetch(day, received, download, late)

    fetches: list[DayFetch] = []
    with ThreadPoolExecutor(max_workers=max(1, statistics_api.parallel_requests)) as pool:
        for day, future in [(day, pool.submit(fetch, day)) for day in days]:
            try:
                fetches.append(future.result())
            except (StatisticsApiError, UnusableAnswer) as error:
                fetches.append(DayFetch(day, reason=str(error)))
    failures = {done.day: done.reason for done in fetches if done.reason}
    refetched = [done for done in fetches if done.late]
    # Only with something to record (or earlier failures of a re-executed run to forget): an
    # ordinary fetch keeps its answer even while the warehouse is down.
    if failures or refetched or context.run.root_run_id:
        with warehouse.connect() as conn:
            run_days.record_failures(context, conn, days, failures)
            with conn.transaction():
                for done in refetched:
                    conn.execute(
                        sql.RECORD_REFETCHED, (run_days.run_key(context), done.day, *done.late)
                    )
    expired = raw_answers.delete_expired(keep=days)
    if expired:
        context.log.info(
            f"deleted {len(expired)} raw answers stored more than "
            f"{raw_answers.retention_days} days ago (BAMBOO_RAW_RETENTION_DAYS)"
        )
    run_days.conclude(context, {day: ("raw_attempts", why) for day, why in failures.items()})
    downloads = [done.download for done in fetches if done.download]
    return dg.MaterializeResult(
        metadata={
            "days": len(days),
            "days_fetched": len(downloads),
            "days_reused": len(fetches) - len(downloads) - len(failures),
            "days_failed": len(failures),
            "bytes": sum(d.bytes for d in downloads),
            "fetch_seconds": round(max((d.seconds for d in downloads), default=0.0), 2),
            "source": statistics_api.describe(),
            "answers": dg.MetadataValue.path(str(raw_answers.answer_path(days[-1]).parent)),
            "per_day": dg.MetadataValue.table(
                [done.row() for done in fetches], schema=FETCH_COLUMNS
            ),
        }
    )


def validate_day(conn, day: date, raw_answers: RawAnswerStore, timezone: tzinfo) -> DayVerdict:
    """Replace the day's validated rows and rejections in one transaction; offsets in
    `created_at` are converted to `timezone`."""
    path = raw_answers.answer_path(day)
    if not path.exists():
        raise dg.Failure(f"no stored answer for {day} at {path}: materialize raw_attempts first")
    with conn.transaction(), read_answer(path) as answer, tempfile.TemporaryFile("w+") as rejected:
        conn.execute(sql.LOCK, (sql.LOCK_VALIDATED, day.toordinal()))
        conn.execute(sql.create_day_partition(day))
        conn.execute(sql.truncate_day_partition(day))
        conn.execute(sql.unlog_day_partition(day))
        cursor = conn.cursor()
        try:
            with cursor.copy(sql.copy_into_day_partition(day)) as copy:
                verdict = judge_answer(answer, day, timezone, copy.write, rejected)
        except MalformedAnswer as error:
            raise dg.Failure(
                f"the stored answer for {day} is not valid JSON ({error}); it is kept at "
                f"{path} for inspection and nothing was loaded for {day}"
            ) from None
        conn.execute(sql.DELETE_FIRST_DAYS, (day,))
        with cursor.copy(sql.COPY_FIRST_DAYS) as copy:
            copy.write(first_days_copy(day, verdict.first_seen))
        conn.execute(sql.DELETE_REJECTED, (day,))
        rejected.seek(0)
        with cursor.copy(sql.COPY_REJECTED) as copy:
            while chunk := rejected.read(1 << 20):
                copy.write(chunk)
        conn.execute(
            sql.RECORD_VALIDATED,
            (
                day,
                verdict.extracted,
                verdict.valid,
                verdict.rejected_total,
                verdict.unreadable_passback,
            ),
        )
    return verdict


@daily_asset(
    kinds={"python", "postgres"},
    deps=[raw_attempts],
    check_specs=[checks.REJECTED_SHARE, checks.VOLUME, checks.API_SHAPE],
)
def validated_attempts(
    context: dg.AssetExecutionContext,
    raw_answers: RawAnswerStore,
    warehouse: Warehouse,
    pipeline_settings: PipelineSettings,
) -> dg.MaterializeResult:
    """Every record of the day judged by the notebook's rules (bamboo_assets/rules.py).

    Valid rows go to `bamboo.validated_attempts`; every rejected record is kept, exactly as
    received and with its reason, in `bamboo.rejected_attempts`. A day is replaced whole.
    """
    verdicts: dict[date, DayVerdict] = {}
    failures: dict[date, str] = {}
    with warehouse.connect() as conn:
        todo, earlier = run_days.remaining(context, conn)
        for day in todo:
            try:
                verdict = verdicts[day] = validate_day(conn, day, raw_answers, pipeline_settings.tz)
            except dg.Failure as error:  # this day's answer is missing or not JSON
                failures[day] = error.description or str(error)
                continue
            context.log.info(
                f"{day}: {verdict.extracted} records, {verdict.valid} valid, "
                f"{verdict.rejected_total} rejected {dict(verdict.rejected)}"
            )
        run_days.record_failures(context, conn, todo, failures)
        samples = conn.execute(sql.REJECTED_SAMPLE, (list(verdicts),)).fetchall()
        history = checks.volume_history(conn, list(verdicts))
    run_days.conclude(
        context, earlier | {day: ("validated_attempts", why) for day, why in failures.items()}
    )
    days = verdicts.values()
    return dg.MaterializeResult(
        metadata={
            "extracted": sum(v.extracted for v in days),
            "valid": sum(v.valid for v in days),
            "rejected": sum(v.rejected_total for v in days),
            "unreadable_passback_params": sum(v.unreadable_passback for v in days),
            "rejected_by_reason": dg.MetadataValue.json(sum((v.rejected for v in days), Counter())),
            "per_day": metadata_table(
                ["day", "extracted", "valid", "rejected"],
                [[d, v.extracted, v.valid, v.rejected_total] for d, v in verdicts.items()],
            ),
            "rejected_sample": metadata_table(
                ["day", "position", "reason", "record"], [list(row) for row in samples]
            ),
        },
        check_results=[
            checks.rejected_share(verdicts, pipeline_settings.max_rejected_share),
            checks.volume(verdicts, history, pipeline_settings.volume),
            checks.api_shape(verdicts),
        ],
    )


def _insert_day(conn, warehouse: Warehouse, day: date, log: dg.DagsterLogManager) -> int:
    """Insert the day's staged rows into `public.solutions`; how many were new.

    Refuses a day whose staging lost rows (an UNLOGGED partition after a crash). Where no
    existing row lies in the day's created_at range, the rows are copied in; else ON CONFLICT.
    """
    # Validation of this day waits until the load commits: both connections read one staging.
    conn.execute(sql.LOCK, (sql.LOCK_VALIDATED, day.toordinal()))
    validated, staged, first, last = conn.execute(sql.STAGED_DAY, {"day": day}).fetchone()
    if validated is not None and staged != validated:
        raise dg.Failure(
            f"bamboo.validated_attempts holds {staged} rows for {day}, but validation kept "
            f"{validated}: its partition is UNLOGGED and PostgreSQL empties it after a crash. "
            f"Nothing was loaded for {day}; rematerialize validated_attempts and "
            f"solutions_table for {day}."
        )
    if not staged:
        return 0
    conn.execute(sql.LOCK_SOLUTIONS_TABLE)
    conn.execute(sql.CONFLICT_PROBE_BEGIN)
    (clash,) = conn.execute(sql.CONFLICT_PROBE, (first, last)).fetchone()
    conn.execute(sql.CONFLICT_PROBE_END)
    if clash:
        log.info(f"{day}: public.solutions has rows between {first} and {last}: ON CONFLICT")
        return conn.execute(sql.INSERT_SOLUTIONS, (day,)).rowcount
    log.info(f"{day}: no row of public.solutions between {first} and {last}: COPY")
    with warehouse.connect() as source, conn.cursor() as cursor:
        source.execute(sql.LOAD_WORK_MEM)
        with (
            source.cursor().copy(sql.copy_new_solutions_out(day)) as rows,
            cursor.copy(sql.COPY_INTO_SOLUTIONS) as copy,
        ):
            for data in rows:
                copy.write(data)
        return cursor.rowcount


@daily_asset(
    kinds={"postgres"},
    deps=[validated_attempts],
    check_specs=[checks.NO_DUPLICATES],
    metadata=catalog.SOLUTIONS,
)
def solutions_table(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    """The day's valid attempts in `public.solutions`, the notebook's table.

    Each `(user_id, created_at)` is inserted once: the first in the answer wins, and a
    re-run inserts nothing twice. A day loads in one transaction: all of it or none.
    """
    prepared = inserted = 0
    with warehouse.connect() as conn:
        days, earlier = run_days.remaining(context, conn)
        for day in days:
            with conn.transaction():
                conn.execute(sql.LOCK, (sql.LOCK_SOLUTIONS, day.toordinal()))
                conn.execute(sql.LOAD_WORK_MEM)
                day_inserted = _insert_day(conn, warehouse, day, context.log)
                conn.execute(sql.RECORD_FIRST_DAYS, (day,))
                day_prepared = conn.execute(sql.RECORD_LOADED, (day_inserted, day)).fetchone()
            prepared += day_prepared[0] if day_prepared else 0
            inserted += day_inserted
            context.log.info(f"{day}: {day_inserted} new rows in public.solutions")
        preview = conn.execute(sql.SOLUTIONS_PREVIEW, (days[0], days[-1])).fetchall()
        (rows,) = conn.execute(sql.SOLUTIONS_ROWS).fetchone()
        duplicates = checks.no_duplicates(conn)
    run_days.conclude(context, earlier)
    return dg.MaterializeResult(
        metadata={
            "prepared": prepared,
            "inserted": inserted,
            "already_present": prepared - inserted,
            "dagster/row_count": rows,
            "preview": metadata_table(
                ["user_id", "attempt_type", "is_correct", "created_at"], [list(r) for r in preview]
            ),
        },
        check_results=[duplicates],
    )
