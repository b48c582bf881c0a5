"""API answer → validated attempts → `public.solutions`, one day-partition at a time."""

import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import dagster as dg

from bamboo_assets import checks, sql
from bamboo_assets.answer import MalformedAnswer
from bamboo_assets.assets.common import daily_asset, markdown_table
from bamboo_assets.partitions import SETTINGS, partition_days
from bamboo_assets.resources.raw_answers import RawAnswerStore, UnusableAnswer, read_answer
from bamboo_assets.resources.statistics_api import Download, StatisticsApi, StatisticsApiError
from bamboo_assets.resources.warehouse import Warehouse
from bamboo_assets.validation import DayVerdict, first_days_copy, judge_answer


@daily_asset(
    kinds={"api", "file"},
)
def raw_attempts(
    context: dg.AssetExecutionContext, statistics_api: StatisticsApi, raw_answers: RawAnswerStore
) -> dg.MaterializeResult:
    """The statistics API's answer for each day, kept byte for byte in `raw/<day>.json.zst`.

    One GET per day for `[day 00:00:00.000000, day 23:59:59.999999]`; the days of a backfill
    are fetched in parallel (ITRESUME_PARALLEL_REQUESTS). Keeping the answer lets every later
    step be re-run without calling the API again; an answer that is not a JSON list is set
    aside in `raw/failed/` and the day fails.
    """
    days = partition_days(context)

    def fetch(day: date) -> Download:
        download = statistics_api.download(day, raw_answers.incoming_path(day), context.log.warning)
        raw_answers.keep(day, download.path)
        context.log.info(
            f"{day}: {download.bytes:,} bytes in {download.seconds:.1f}s "
            f"({download.attempts} tries) from {statistics_api.describe()}"
        )
        return download

    downloads: list[Download] = []
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, statistics_api.parallel_requests)) as pool:
        for day, future in [(day, pool.submit(fetch, day)) for day in days]:
            try:
                downloads.append(future.result())
            except (StatisticsApiError, UnusableAnswer) as error:
                failures.append(f"{day}: {error}")
    expired = raw_answers.delete_expired(keep=days)
    if expired:
        context.log.info(
            f"deleted {len(expired)} raw answers stored more than "
            f"{raw_answers.retention_days} days ago (BAMBOO_RAW_RETENTION_DAYS)"
        )
    if failures:
        raise dg.Failure(
            description=f"{len(failures)} of {len(days)} days not fetched; "
            "nothing was loaded for them. " + " | ".join(failures),
            metadata={"failed_days": dg.MetadataValue.json(failures)},
        )
    return dg.MaterializeResult(
        metadata={
            "days": len(days),
            "bytes": sum(d.bytes for d in downloads),
            "fetch_seconds": round(max(d.seconds for d in downloads), 2),
            "source": statistics_api.describe(),
            "answers": dg.MetadataValue.path(str(raw_answers.answer_path(days[-1]).parent)),
        }
    )


def _validate_day(conn, day: date, raw_answers: RawAnswerStore) -> DayVerdict:
    """Replace the day's validated rows and rejections in one transaction."""
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
                verdict = judge_answer(answer, day, SETTINGS.tz, copy.write, rejected)
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
    check_specs=[checks.REJECTED_SHARE],
)
def validated_attempts(
    context: dg.AssetExecutionContext, raw_answers: RawAnswerStore, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Every record of the day judged by the notebook's rules (bamboo_assets/rules.py).

    Valid rows go to `bamboo.validated_attempts`; every rejected record is kept, exactly as
    received and with its reason, in `bamboo.rejected_attempts`. A day is replaced whole.
    """
    verdicts: dict[date, DayVerdict] = {}
    with warehouse.connect() as conn:
        for day in partition_days(context):
            verdict = verdicts[day] = _validate_day(conn, day, raw_answers)
            context.log.info(
                f"{day}: {verdict.extracted} records, {verdict.valid} valid, "
                f"{verdict.rejected_total} rejected {dict(verdict.rejected)}"
            )
        samples = conn.execute(sql.REJECTED_SAMPLE, (partition_days(context),)).fetchall()
    days = verdicts.values()
    return dg.MaterializeResult(
        metadata={
            "extracted": sum(v.extracted for v in days),
            "valid": sum(v.valid for v in days),
            "rejected": sum(v.rejected_total for v in days),
            "unreadable_passback_params": sum(v.unreadable_passback for v in days),
            "rejected_by_reason": dg.MetadataValue.json(sum((v.rejected for v in days), Counter())),
            "per_day": markdown_table(
                ["day", "extracted", "valid", "rejected"],
                [[d, v.extracted, v.valid, v.rejected_total] for d, v in verdicts.items()],
            ),
            "rejected_sample": markdown_table(
                ["day", "position", "reason", "record"], [list(row) for row in samples]
            ),
        },
        check_results=[checks.rejected_share(verdicts, SETTINGS.max_rejected_share)],
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
)
def solutions_table(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    """The day's valid attempts in `public.solutions`, the notebook's table.

    Each `(user_id, created_at)` is inserted once: the first in the answer wins, and a
    re-run inserts nothing twice. A day loads in one transaction: all of it or none.
    """
    days = partition_days(context)
    prepared = inserted = 0
    with warehouse.connect() as conn:
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
        duplicates = checks.no_duplicates(conn)
    return dg.MaterializeResult(
        metadata={
            "prepared": prepared,
            "inserted": inserted,
            "already_present": prepared - inserted,
            "preview": markdown_table(
                ["user_id", "attempt_type", "is_correct", "created_at"], [list(r) for r in preview]
            ),
        },
        check_results=[duplicates],
    )
