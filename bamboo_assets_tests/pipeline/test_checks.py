"""Asset checks: they pass on a healthy run and fail when the data is wrong."""

from collections import Counter
from collections.abc import Callable
from datetime import date

import dagster as dg
import psycopg

from bamboo_assets import checks
from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.core.validation import DayVerdict
from bamboo_assets.warehouse import loading, metrics
from bamboo_assets.warehouse.connection import PostgresWarehouse
from bamboo_assets_tests.support.bamboo import HEADER, Bamboo, check_evaluations


def test_a_healthy_run_passes_every_check(local: Callable[..., Bamboo]) -> None:
    result = local().run("2025-03-01", "2025-03-02")
    assert result.success
    assert {name: check.passed for name, check in check_evaluations(result).items()} == {
        "rejected_share_below_threshold": True,
        "record_volume_within_history": True,  # no verdict yet: too little history
        "api_records_have_the_expected_keys": True,
        "no_duplicate_attempts": True,
        "metrics_match_solutions": True,
        "dashboard_matches_metrics": True,
    }


def test_the_rejected_share_check_warns_for_the_days_just_over_the_threshold() -> None:
    def day(rejected: int) -> DayVerdict:
        return DayVerdict(extracted=1000, valid=1000 - rejected, rejected=Counter(bad=rejected))

    at, over = date(2025, 3, 1), date(2025, 3, 2)
    assert checks.rejected_share({at: day(50)}, threshold=0.05).passed  # 5.0 %: not over
    result = checks.rejected_share({at: day(50), over: day(51)}, threshold=0.05)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["days_over_threshold"].data == {"2025-03-02": 0.051}


def test_a_table_made_without_the_unique_constraint_fails_the_duplicate_check(
    empty_dsn: str,
) -> None:
    database_dsn = empty_dsn  # a table made by hand before Bamboo's first run
    with psycopg.connect(database_dsn) as conn:
        conn.execute(
            "CREATE TABLE public.solutions (id BIGINT GENERATED ALWAYS AS IDENTITY, user_id TEXT,"
            " oauth_consumer_key TEXT, lis_result_sourcedid TEXT, lis_outcome_service_url TEXT,"
            " is_correct INT, attempt_type TEXT, created_at TIMESTAMP)"
        )
        conn.execute("CREATE INDEX by_user_and_time ON public.solutions (user_id, created_at)")
    with PostgresWarehouse(dsn=database_dsn).connect() as conn:
        result = checks.no_duplicates(loading.unique_attempt_index(conn))
        assert not result.passed
        conn.execute("CREATE UNIQUE INDEX unique_attempt ON public.solutions (user_id, created_at)")
        result = checks.no_duplicates(loading.unique_attempt_index(conn))
        assert result.passed and result.metadata["enforced_by"].value == "unique_attempt"


def test_metrics_that_drift_from_the_table_fail_the_reconciliation(
    local: Callable[..., Bamboo], warehouse: PostgresWarehouse
) -> None:
    assert local().run("2025-03-01").success
    with warehouse.connect() as conn:
        conn.execute(
            "DELETE FROM public.solutions WHERE ctid IN (SELECT ctid FROM public.solutions LIMIT 3)"
        )
        days = [date(2025, 3, 1)]
        result = checks.metrics_match(days, metrics.mismatched_days(conn, days))
    assert not result.passed
    assert result.metadata["mismatched_days"].value == ["2025-03-01"]


def test_a_sheet_edited_after_the_refresh_no_longer_matches() -> None:
    stored = [DayMetrics("2025-03-01", 10, 4, 3, 3)]
    assert checks.dashboard_matches([HEADER, ["2025-03-01", 10, 4, 3, 3]], stored).passed
    edited = checks.dashboard_matches([HEADER, ["2025-03-01", 11, 4, 3, 3]], stored)
    assert not edited.passed
    assert edited.metadata["days_different"].value == ["2025-03-01"]
