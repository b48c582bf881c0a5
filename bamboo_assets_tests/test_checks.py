"""Asset checks: they pass on a healthy run and fail when the data is wrong."""

from datetime import date
from pathlib import Path

import psycopg

from bamboo_assets import checks
from bamboo_assets.resources.warehouse import PostgresWarehouse
from bamboo_assets_tests.helpers import local_resources, materialize_days


def check_results(result) -> dict[str, bool]:
    return {
        evaluation.check_name: evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }


def test_a_healthy_run_passes_every_check(bamboo_home: Path, warehouse: PostgresWarehouse) -> None:
    result = materialize_days("2025-03-01", "2025-03-02", local_resources(bamboo_home, warehouse))
    assert result.success
    assert check_results(result) == {
        "rejected_share_below_threshold": True,
        "record_volume_within_history": True,  # no verdict yet: too little history
        "api_records_have_the_expected_keys": True,
        "no_duplicate_attempts": True,
        "metrics_match_solutions": True,
        "dashboard_matches_metrics": True,
    }


def test_a_table_made_without_the_unique_constraint_fails_the_duplicate_check(
    database_dsn: str,
) -> None:
    with psycopg.connect(database_dsn) as conn:
        conn.execute(
            "CREATE TABLE public.solutions (id BIGINT GENERATED ALWAYS AS IDENTITY, user_id TEXT,"
            " oauth_consumer_key TEXT, lis_result_sourcedid TEXT, lis_outcome_service_url TEXT,"
            " is_correct INT, attempt_type TEXT, created_at TIMESTAMP)"
        )
        conn.execute("CREATE INDEX by_user_and_time ON public.solutions (user_id, created_at)")
    with PostgresWarehouse(dsn=database_dsn).connect() as conn:
        result = checks.no_duplicates(conn)
        assert not result.passed
        conn.execute("CREATE UNIQUE INDEX unique_attempt ON public.solutions (user_id, created_at)")
        assert checks.no_duplicates(conn).metadata["enforced_by"].value == "unique_attempt"


def test_metrics_that_drift_from_the_table_fail_the_reconciliation(
    bamboo_home: Path, warehouse: PostgresWarehouse
) -> None:
    assert materialize_days(
        "2025-03-01", "2025-03-01", local_resources(bamboo_home, warehouse)
    ).success
    with warehouse.connect() as conn:
        conn.execute(
            "DELETE FROM public.solutions WHERE ctid IN (SELECT ctid FROM public.solutions LIMIT 3)"
        )
        result = checks.metrics_match(conn, [date(2025, 3, 1)])
    assert not result.passed
    assert result.metadata["mismatched_days"].value == ["2025-03-01"]


def test_a_sheet_edited_after_the_refresh_no_longer_matches() -> None:
    metrics = [("2025-03-01", 10, 4, 3, 3)]
    header = [
        "study_date",
        "attempts_per_day_total",
        "correct_attempts_per_day",
        "unique_users_per_day",
        "new_users_per_day",
    ]
    assert checks.dashboard_matches([header, ["2025-03-01", 10, 4, 3, 3]], metrics).passed
    edited = checks.dashboard_matches([header, ["2025-03-01", 11, 4, 3, 3]], metrics)
    assert not edited.passed
    assert edited.metadata["days_different"].value == ["2025-03-01"]
