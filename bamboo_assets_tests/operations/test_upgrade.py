"""Upgrading a warehouse that Bamboo 0.1.0 created and filled: the new code migrates it once,
keeps every row, and the next runs continue from it exactly as on a fresh install."""

import subprocess
from pathlib import Path

import psycopg
import pytest

from bamboo_assets.warehouse import schema
from bamboo_assets.warehouse.connection import PostgresWarehouse
from bamboo_assets_tests.operations.conftest import KEY
from bamboo_assets_tests.servers import FakeStatisticsApi, Reply
from bamboo_assets_tests.support.bamboo import Bamboo, query
from bamboo_assets_tests.support.dagster_processes import VENV_BIN, bamboo_env
from bamboo_assets_tests.support.faults import Answers, answer_of

pytestmark = pytest.mark.slow

FAILING = "2025-03-03"
ODD = [  # one loaded, two rejected with their reasons
    {"lti_user_id": "u-odd", "passback_params": "{}", "is_correct": True, "attempt_type": "submit",
     "created_at": "2025-03-02 10:00:00.000001"},
    {"lti_user_id": None, "passback_params": "{}", "is_correct": None, "attempt_type": "run",
     "created_at": "2025-03-02 10:00:00.000002"},
    {"lti_user_id": "u-odd", "passback_params": "{}", "is_correct": 3, "attempt_type": "submit",
     "created_at": "2025-03-02 10:00:00.000003"},
]  # fmt: skip
LATE = answer_of([{**ODD[0], "created_at": "2025-03-04 23:00:00.000000"}])
# Every table 0.1.0 kept, read without ids and timestamps: what an upgrade must keep.
TABLES = {
    "solutions": "SELECT user_id, oauth_consumer_key, lis_result_sourcedid, "
    "lis_outcome_service_url, is_correct, attempt_type, created_at FROM public.solutions "
    "ORDER BY user_id, created_at",
    "daily_metrics": "SELECT study_date, attempts_per_day_total, correct_attempts_per_day, "
    "unique_users_per_day, new_users_per_day FROM public.daily_metrics ORDER BY 1",
    "rejected": "SELECT day, position, reason, record FROM bamboo.rejected_attempts ORDER BY 1, 2",
    "day_loads": "SELECT day, extracted, validated, rejected, unreadable_passback, prepared, "
    "inserted FROM bamboo.day_loads ORDER BY day",
    "first_days": "SELECT user_id, first_day FROM bamboo.user_first_day ORDER BY 1",
    "refetched": "SELECT day, new_records, gone_records FROM bamboo.refetched_days ORDER BY 1",
}


def snapshot(dsn: str) -> dict[str, list[tuple]]:
    return {name: query(dsn, statement) for name, statement in TABLES.items()}


def old_run(release: Path, dsn: str, home: Path, api: FakeStatisticsApi, *arguments: str) -> None:
    """A CLI run of Bamboo 0.1.0 (it fails when a day fails, as 0.1.0 does)."""
    env = bamboo_env(home, dsn, home / "dagster") | {
        "PYTHONPATH": str(release),
        "ITRESUME_URL": api.url,
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": KEY,
        "ITRESUME_RETRIES": "0",
    }
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            str(VENV_BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "bamboo_assets.definitions",
            "--select",
            "*",
            *arguments,
        ],  # fmt: skip
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "bamboo_pipeline" not in done.stdout + done.stderr, "the new code ran, not 0.1.0"
    assert "Traceback" not in done.stderr or "Failure" in done.stderr, done.stderr[-3000:]


def history(release: Path, dsn: str, home: Path, api: FakeStatisticsApi, answers: Answers) -> None:
    """What a deployment of 0.1.0 lived through: a range with a failed day and rejected
    records, then a day fetched again with a late record."""
    api.fail_day(FAILING, Reply(503))
    answers.by_day["2025-03-02"] = answer_of(ODD)
    old_run(release, dsn, home, api, "--partition-range", "2025-03-01...2025-03-04")
    answers.by_day["2025-03-04"] = LATE
    old_run(
        release, dsn, home, api, "--partition", "2025-03-04",
        "--config-json", '{"ops": {"raw_attempts": {"config": {"refetch": true}}}}',
    )  # fmt: skip


def new_runs(bamboo: Bamboo, api: FakeStatisticsApi) -> None:
    """What the next release runs: the failed day once the API is back, and a new day."""
    api.fail_day(FAILING, None)
    assert bamboo.run(FAILING).success
    assert bamboo.run("2025-03-05").success


def test_a_0_1_0_warehouse_is_migrated_with_every_row_kept_and_continues_like_a_fresh_one(
    bamboo_0_1_0: Path,
    api: FakeStatisticsApi,
    answers: Answers,
    empty_dsn: str,
    other_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history(bamboo_0_1_0, empty_dsn, tmp_path / "old", api, answers)
    before = snapshot(empty_dsn)
    failures = query(empty_dsn, "SELECT run_id, day, step, reason FROM bamboo.day_failures")
    assert before["rejected"] and before["refetched"] and failures  # the old schema, filled
    assert [(day.isoformat(), step) for _, day, step, _ in failures] == [(FAILING, "raw_attempts")]

    upgraded = Bamboo.from_env(
        monkeypatch,
        BAMBOO_HOME=str(tmp_path / "old"),
        BAMBOO_DB_DSN=empty_dsn,
        ITRESUME_URL=api.url,
        ITRESUME_CLIENT="acme",
        ITRESUME_CLIENT_KEY=KEY,
    )
    with psycopg.connect(empty_dsn) as conn:
        assert schema.current_version(conn) is None  # 0.1.0 kept no version
    with PostgresWarehouse(dsn=empty_dsn).connect() as conn:  # what a run's first step does
        assert schema.current_version(conn) == schema.head()

    assert snapshot(empty_dsn) == before
    assert query(empty_dsn, "SELECT to_regclass('bamboo.day_failures')") == [(None,)]
    kept = query(empty_dsn, "SELECT run_id, day, step, reason, outcome FROM bamboo.run_days")
    assert kept == [(*failure, "failed") for failure in failures]

    new_runs(upgraded, api)
    upgraded_rows = snapshot(empty_dsn)

    # The same life on a fresh install of the new code gives the same rows.
    fresh = Bamboo.from_env(
        monkeypatch, BAMBOO_HOME=str(tmp_path / "fresh"), BAMBOO_DB_DSN=other_dsn
    )
    api.fail_day(FAILING, Reply(503))
    answers.by_day.pop("2025-03-04")
    fresh.run("2025-03-01", "2025-03-04")
    answers.by_day["2025-03-04"] = LATE
    fresh.run("2025-03-04", tags={"bamboo/refetch": "true"})
    new_runs(fresh, api)
    assert snapshot(other_dsn) == upgraded_rows
