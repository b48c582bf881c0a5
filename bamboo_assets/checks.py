"""Data-quality checks users care about, evaluated right after their asset writes its days.

Declared as `check_specs` of the pipeline (the step knows which days it just wrote), so every
run, whoever launched it, shows them on the asset pages; the digest lists those that did not
pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date

import dagster as dg

from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.core.validation import NOTEBOOK_KEYS, DayVerdict
from bamboo_assets.core.volume import VolumeRule, volume_band, volume_verdict
from bamboo_assets.dashboard.plan import plan_dashboard

NO_DUPLICATES = dg.AssetCheckSpec(
    "no_duplicate_attempts",
    asset="solutions_table",
    description="No (user_id, created_at) appears twice in public.solutions: a valid unique "
    "index on those columns (the notebook's unique_check) is in place.",
)
REJECTED_SHARE = dg.AssetCheckSpec(
    "rejected_share_below_threshold",
    asset="validated_attempts",
    description="Each day's share of rejected records stays below BAMBOO_MAX_REJECTED_SHARE "
    "(warning): a jump usually means the API changed its format.",
)
VOLUME = dg.AssetCheckSpec(
    "record_volume_within_history",
    asset="validated_attempts",
    description="Each day's record count lies within BAMBOO_VOLUME_LOW_RATIO and "
    "BAMBOO_VOLUME_HIGH_RATIO times the median of the same weekday over the four weeks "
    "before (warning); no verdict until BAMBOO_VOLUME_MIN_WEEKS of them are loaded. An empty "
    "answer on a busy day usually means the API lost data, not that nobody studied.",
)
API_SHAPE = dg.AssetCheckSpec(
    "api_records_have_the_expected_keys",
    asset="validated_attempts",
    description="Every record carries exactly the five keys the notebook reads (warning): "
    "another key, or one missing, means the API changed. Records still load by the "
    "notebook's rules.",
)
METRICS_RECONCILE = dg.AssetCheckSpec(
    "metrics_match_solutions",
    asset="daily_metrics",
    description="public.daily_metrics equals the notebook's definitions recomputed from "
    "public.solutions for the days the run changed: all of them up to "
    "7, else 7 spread over them (the first, the last and evenly between), so a backfill of a "
    "year is checked in a second.",
)
RECONCILED_DAYS = 7
DASHBOARD_MATCHES = dg.AssetCheckSpec(
    "dashboard_matches_metrics",
    asset="dashboard_sheet",
    description="The dashboard as the refresh left it (Google's answer to the write, no extra "
    "read): every day's row equals public.daily_metrics, and Bamboo's chart reads every day.",
)


def no_duplicates(index: str | None) -> dg.AssetCheckResult:
    """Duplicates are impossible exactly while a valid unique index on (user_id, created_at)
    exists (`index`: its name, or None)."""
    return dg.AssetCheckResult(
        asset_key=NO_DUPLICATES.asset_key,
        check_name=NO_DUPLICATES.name,
        passed=index is not None,
        metadata={"enforced_by": index or "nothing: no valid unique index"},
    )


def rejected_share(verdicts: Mapping[date, DayVerdict], threshold: float) -> dg.AssetCheckResult:
    shares = {
        str(day): round(v.rejected_total / v.extracted, 4) if v.extracted else 0.0
        for day, v in verdicts.items()
    }
    over = {day: share for day, share in shares.items() if share > threshold}
    return dg.AssetCheckResult(
        asset_key=REJECTED_SHARE.asset_key,
        check_name=REJECTED_SHARE.name,
        passed=not over,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "threshold": threshold,
            "days_over_threshold": dg.MetadataValue.json(over),
            "highest_share": max(shares.values(), default=0.0),
        },
    )


VOLUME_COLUMNS = dg.TableSchema(
    columns=[
        dg.TableColumn("day", "string"),
        dg.TableColumn("records", "int"),
        dg.TableColumn("expected_low", "float"),
        dg.TableColumn("expected_high", "float"),
        dg.TableColumn("verdict", "string", description="ok, too few, too many or no history"),
    ]
)


def volume(
    verdicts: Mapping[date, DayVerdict], history: Mapping[date, int], rule: VolumeRule
) -> dg.AssetCheckResult:
    rows, outside = [], []
    for day, verdict in verdicts.items():
        band = volume_band(day, history, rule)
        count, word = verdict.extracted, volume_verdict(verdict.extracted, band)
        if band and word != "ok":
            outside.append(f"{day}: {count:,} records, expected {band[0]:,.0f} to {band[1]:,.0f}")
        low, high = band or (None, None)
        record = {"day": str(day), "records": count, "expected_low": low, "expected_high": high}
        rows.append(dg.TableRecord({**record, "verdict": word}))
    return dg.AssetCheckResult(
        asset_key=VOLUME.asset_key,
        check_name=VOLUME.name,
        passed=not outside,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(outside) or None,
        metadata={
            "days_outside": dg.MetadataValue.json(outside),
            "per_day": dg.MetadataValue.table(rows, schema=VOLUME_COLUMNS),
            "rule": f"{rule.low_ratio:g}x to {rule.high_ratio:g}x the median of the same weekday "
            f"over {rule.weeks} weeks, at least {rule.min_weeks} known",
        },
    )


def api_shape(verdicts: Mapping[date, DayVerdict]) -> dg.AssetCheckResult:
    """Unexpected and missing keys counted per key over the run's days."""
    unexpected = sum((v.unexpected_keys for v in verdicts.values()), Counter())
    missing = sum((v.missing_keys for v in verdicts.values()), Counter())
    found = [f"{key}: {n:,} records" for key, n in sorted(unexpected.items())]
    found += [f"missing {key}: {n:,} records" for key, n in sorted(missing.items())]
    fast = sum(v.fast_path for v in verdicts.values())
    return dg.AssetCheckResult(
        asset_key=API_SHAPE.asset_key,
        check_name=API_SHAPE.name,
        passed=not found,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"record keys other than the notebook's: {', '.join(found)}" if found else None,
        metadata={
            "expected_keys": dg.MetadataValue.json(sorted(NOTEBOOK_KEYS)),
            "unexpected_keys": dg.MetadataValue.json(dict(unexpected)),
            "missing_keys": dg.MetadataValue.json(dict(missing)),
            "fast_path_records": fast,
            "general_parser_records": sum(v.extracted for v in verdicts.values()) - fast,
        },
    )


def reconcile_sample(days: Sequence[date]) -> list[date]:
    """The days the reconciliation recomputes: all, or RECONCILED_DAYS spread over them."""
    if len(days) <= RECONCILED_DAYS:
        return list(days)
    step = (len(days) - 1) / (RECONCILED_DAYS - 1)
    return [days[round(n * step)] for n in range(RECONCILED_DAYS)]


def metrics_match(days: Sequence[date], mismatched: Sequence[str]) -> dg.AssetCheckResult:
    """`days`: the days recomputed; `mismatched`: those whose stored metrics differ."""
    return dg.AssetCheckResult(
        asset_key=METRICS_RECONCILE.asset_key,
        check_name=METRICS_RECONCILE.name,
        passed=not mismatched,
        metadata={
            "days_checked": dg.MetadataValue.json([str(day) for day in days]),
            "mismatched_days": dg.MetadataValue.json(mismatched),
        },
    )


def dashboard_matches(
    grid: list[list], metrics: Sequence[DayMetrics], chart_matches: bool | None = None
) -> dg.AssetCheckResult:
    """`grid` is the dashboard as the refresh left it; `chart_matches` whether Bamboo's chart
    reads every day (None where the dashboard keeps no chart)."""
    plan = plan_dashboard(grid, metrics)
    wrong = plan.updated_days + plan.appended_days
    return dg.AssetCheckResult(
        asset_key=DASHBOARD_MATCHES.asset_key,
        check_name=DASHBOARD_MATCHES.name,
        passed=not wrong and not plan.added_columns and chart_matches is not False,
        metadata={
            "days_compared": len(metrics),
            "days_different": dg.MetadataValue.json(wrong),
            "missing_columns": dg.MetadataValue.json(plan.added_columns),
            "chart_matches": "no chart kept" if chart_matches is None else chart_matches,
        },
    )
