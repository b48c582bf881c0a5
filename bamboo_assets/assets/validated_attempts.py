"""validated_attempts: every record of a day judged by the notebook's rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg

from bamboo_assets import checks
from bamboo_assets.assets import raw_attempts
from bamboo_assets.assets.run import DaysRun, StepResult, table
from bamboo_assets.core.answer import MalformedAnswer
from bamboo_assets.core.validation import DayVerdict
from bamboo_assets.core.volume import VolumeRule
from bamboo_assets.resources.raw_answers import read_answer
from bamboo_assets.warehouse import staging

SPEC = dg.AssetSpec(
    "validated_attempts",
    description=(
        "Every record of the day judged by the notebook's rules (bamboo_assets/core/rules.py). "
        "Valid rows go to `bamboo.validated_attempts`; every rejected record is kept, exactly "
        "as received and with its reason, in `bamboo.rejected_attempts`. A day is replaced "
        "whole. A stored answer that is not valid JSON inside fails its day and is set aside "
        "in `raw/failed/`, so materializing the day again fetches a new one."
    ),
    deps=[raw_attempts.SPEC.key],
    kinds={"python", "postgres"},
    skippable=True,
)
CHECKS = [checks.REJECTED_SHARE, checks.VOLUME, checks.API_SHAPE]
SAMPLE = [("day", "string"), ("position", "int"), ("reason", "string"), ("record", "string")]


def run(days_run: DaysRun) -> StepResult:
    """Stage each remaining day's answer; a missing or broken answer fails its day alone."""
    conn, answers, step = days_run.conn, days_run.raw_answers, SPEC.key.to_user_string()
    stored = []
    for day in days_run.ledger.remaining():
        path = answers.answer_path(day)
        if path.exists():
            stored.append((day, path))
        else:
            why = f"no stored answer for {day} at {path}: materialize raw_attempts first"
            days_run.ledger.fail(day, step, why)
    staged = staging.staged_days(conn)
    staging.create_partitions(conn, [day for day, _ in stored if day not in staged])
    verdicts: dict[date, DayVerdict] = {}
    for day, outcome in _staged(days_run, stored):
        if isinstance(outcome, MalformedAnswer):
            aside = answers.set_aside(day)
            days_run.ledger.fail(
                day,
                step,
                f"the stored answer for {day} is not valid JSON ({outcome}); nothing was loaded "
                f"for {day}, and the answer was set aside at {aside} so that the day is "
                "fetched again",
            )
        else:
            verdicts[day] = outcome
    records = sum(v.extracted for v in verdicts.values())
    rejected = sum(v.rejected_total for v in verdicts.values())
    days_run.log.info(f"validated_attempts: {records:,} records, {rejected:,} rejected")
    return StepResult(
        per_day={day: _metadata(verdict) for day, verdict in verdicts.items()},
        shared=_samples(days_run, list(verdicts)),
        checks=_checks(days_run, verdicts),
    )


def _staged(
    days_run: DaysRun, stored: list[tuple[date, Path]]
) -> Iterator[tuple[date, DayVerdict | MalformedAnswer]]:
    """The days staged, in order; a staging connection lost is named as the run's own is."""
    warehouse, timezone = days_run.warehouse, days_run.settings.timezone
    try:
        workers = staging.workers_for(stored)
        yield from staging.stage_days(
            days_run.conn, warehouse.conninfo(), stored, timezone, read_answer, workers
        )
    except psycopg.OperationalError as error:
        raise warehouse.connection_lost(error, "the day being staged") from None


def _metadata(verdict: DayVerdict) -> dict[str, object]:
    return {
        "extracted": verdict.extracted,
        "valid": verdict.valid,
        "rejected": verdict.rejected_total,
        "unreadable_passback_params": verdict.unreadable_passback,
        "rejected_by_reason": dg.MetadataValue.json(dict(verdict.rejected)),
    }


def _samples(days_run: DaysRun, days: list[date]) -> dict[str, object]:
    rows = staging.rejected_sample(days_run.conn, days) if days else []
    names = [name for name, _ in SAMPLE]
    return {"rejected_sample": table([dict(zip(names, row, strict=True)) for row in rows], SAMPLE)}


def _checks(days_run: DaysRun, verdicts: dict[date, DayVerdict]) -> list[dg.AssetCheckResult]:
    settings = days_run.settings
    history: dict[date, int] = {}
    if verdicts:
        first = min(verdicts) - timedelta(weeks=VolumeRule.weeks)
        history = staging.extracted_between(days_run.conn, first, max(verdicts))
    return [
        checks.rejected_share(verdicts, settings.max_rejected_share),
        checks.volume(verdicts, history, settings.volume),
        checks.api_shape(verdicts),
    ]
