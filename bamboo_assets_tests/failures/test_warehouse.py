"""The warehouse going away, a killed process, two runs of a day at once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import UTC
from pathlib import Path

import pytest

from bamboo_assets.core.rules import Attempt, judge
from bamboo_assets_tests.failures.runs import DAY, LOADING, D, Run, production, run
from bamboo_assets_tests.servers import closed_port
from bamboo_assets_tests.support.bamboo import LINEAGE, notebook_metrics, query, stored_metrics
from bamboo_assets_tests.support.faults import (
    Answers,
    Terminator,
    database_name,
    day_counts,
    materialized,
    simulated,
    wait_for_statement,
    wait_until_gone,
)

# The statement that loads staged days into public.solutions (warehouse/loading.py), whichever
# of its two forms the load takes.
LOAD = "WITH offered AS MATERIALIZED"


def test_a_warehouse_that_is_down_fails_naming_it_without_the_password(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv(
        "BAMBOO_DB_DSN", f"host=127.0.0.1 port={port} dbname=bamboo user=etl password=pw-9c1e77"
    )
    outcome = run(production(), select=LOADING)

    assert not outcome.success
    assert outcome.message().startswith(
        "dagster._core.definitions.events.Failure: validated_attempts failed for every day it "
        "had to do: cannot connect to the warehouse (database bamboo on 127.0.0.1): "
    )
    assert (
        "bamboo_assets.warehouse.connection.WarehouseUnavailable: cannot connect to the "
        "warehouse (database bamboo on 127.0.0.1): "
    ) in outcome.errors()
    assert "pw-9c1e77" not in outcome.errors() + "\n".join(outcome.log)
    assert materialized(outcome.result) == {"raw_attempts"}  # the answer is kept for a rerun


# "COPY" meets the staging COPY of validated_attempts first; LOAD is solutions_table's insert.
@pytest.mark.parametrize("statement", ["COPY", LOAD])
def test_a_connection_lost_mid_load_leaves_no_partial_day_and_a_rerun_completes(
    env: dict[str, str],
    answers: Answers,
    database_dsn: str,
    postgres_uri: str,
    statement: str,
) -> None:
    answers.by_day[D] = simulated(DAY, 40_000)
    terminator = Terminator(postgres_uri, database_name(database_dsn), statement)
    terminator.start()
    outcome = run(production(), select=LOADING)
    terminator.join(5)

    assert terminator.terminated is not None
    assert not outcome.success
    step = "validated_attempts" if statement == "COPY" else "solutions_table"
    assert f"{step} failed for every day it had to do: " in outcome.message()
    counts = day_counts(database_dsn, DAY)
    assert counts["solutions"] == 0
    if statement == "COPY":
        assert counts == dict.fromkeys(counts, 0)

    again = run(production(), select=LOADING)
    assert again.success, again.errors()
    counts = day_counts(database_dsn, DAY)
    assert counts["solutions"] == counts["validated"] > 0

    # What the run said: the warehouse named (no credentials), and that nothing half-done
    # was kept.
    said = outcome.errors()
    assert (
        "WarehouseUnavailable: lost the connection to the warehouse (database "
        f"{database_name(database_dsn)} on " in said
    )
    assert re.search(r"; the (day being staged|step's uncommitted work) was rolled back", said)


@pytest.mark.slow
def test_a_process_killed_during_the_load_leaves_all_or_nothing_and_a_rerun_completes(
    env: dict[str, str],
    answers: Answers,
    database_dsn: str,
    postgres_uri: str,
    tmp_path: Path,
) -> None:
    answers.by_day[D] = simulated(DAY, 40_000)
    assert run(production(), select=LINEAGE[:2]).success  # to know the day's row count
    expected = day_counts(database_dsn, DAY)["validated"]
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    command = [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "bamboo_assets.definitions",
        "--select",
        "raw_attempts,validated_attempts,solutions_table",
        "--partition",
        D,
    ]
    process = subprocess.Popen(
        command,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pid = wait_for_statement(postgres_uri, database_name(database_dsn), LOAD, 60)
        assert pid is not None, "the load never reached its insert into public.solutions"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    wait_until_gone(postgres_uri, [pid])

    assert process.returncode == -signal.SIGKILL
    assert day_counts(database_dsn, DAY)["solutions"] in (0, expected)

    again = run(production(), select=LOADING)
    assert again.success, again.errors()
    assert day_counts(database_dsn, DAY)["solutions"] == expected
    assert query(
        database_dsn,
        "SELECT count(*) FROM (SELECT 1 FROM public.solutions"
        " GROUP BY user_id, created_at HAVING count(*) > 1) d",
    ) == [(0,)]


def test_two_runs_of_the_same_day_at_once_finish_without_duplicates_or_deadlock(
    env: dict[str, str], answers: Answers, database_dsn: str, bamboo_home: Path
) -> None:
    answers.by_day[D] = simulated(DAY, 8_000)
    start = threading.Barrier(2)
    outcomes: list[Run] = []

    def one_run() -> None:
        start.wait()
        outcome = run(production())
        outcome.instance.dispose()  # in the thread that made it (its SQLite storage wants that)
        outcomes.append(outcome)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a run did not finish"

    assert [outcome.success for outcome in outcomes] == [True, True], [
        outcome.errors() for outcome in outcomes
    ]
    counts = day_counts(database_dsn, DAY)
    records = json.loads(answers.by_day[D])
    judged = [judge(record, UTC)[0] for record in records]
    valid = len({(a.user_id, a.created_at) for a in judged if isinstance(a, Attempt)})
    assert (counts["solutions"], counts["day_loads"]) == (valid, 1)
    assert counts["validated"] + counts["rejected"] == len(records)
    inserted = sorted(outcome.metadata("solutions_table")["inserted"] for outcome in outcomes)
    assert inserted == [0, valid]
    assert stored_metrics(database_dsn) == notebook_metrics(database_dsn)
    with (bamboo_home / "dashboard.csv").open() as dashboard:
        assert len(dashboard.readlines()) == 2
    assert len(list((bamboo_home / "outbox").glob("*.eml"))) == 2
    assert list((bamboo_home / "raw" / "incoming").iterdir()) == []
