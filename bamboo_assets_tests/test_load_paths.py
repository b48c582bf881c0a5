"""Loading a day into public.solutions: COPY when no stored row can conflict with the day,
INSERT ... ON CONFLICT otherwise, and a staging emptied by a crash refused, not loaded."""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg

from bamboo_assets.resources.raw_answers import RawAnswerStore, write_answer
from bamboo_assets.resources.warehouse import PostgresWarehouse
from bamboo_assets_tests.faults import run_log
from bamboo_assets_tests.helpers import ASSETS, local_resources, materialize_days, query

DAY = date(2025, 3, 4)
LOAD = ASSETS[1:3]  # validated_attempts, solutions_table: the stored answer is the test's
ROWS = """
SELECT user_id, oauth_consumer_key, lis_result_sourcedid, lis_outcome_service_url,
    is_correct, attempt_type, created_at
FROM public.solutions WHERE user_id <> 'already-there' ORDER BY user_id, created_at
"""


def record(user: str, minute: int, is_correct: int | None, course: str) -> dict:
    passback = f"{{'oauth_consumer_key': '', 'lis_result_sourcedid': '{course}'}}"
    return {
        "lti_user_id": user,
        "passback_params": passback,
        "is_correct": is_correct,
        "attempt_type": "run" if is_correct is None else "submit",
        "created_at": f"{DAY} 10:{minute:02d}:00.000001",
    }


# Users in reverse order of the unique index, and every third key sent again later with
# other values: the first one sent must be the one stored.
FIRST = [record(f"user-{n:02d}", n % 7, [None, 0, 1][n % 3], "first") for n in range(40, 0, -1)]
AGAIN = [record(f"user-{n:02d}", n % 7, 1, "again") for n in range(40, 0, -3)]


def store_answer(home: Path, records: list[dict]) -> None:
    store = RawAnswerStore(directory=str(home / "raw"))
    Path(store.directory).mkdir(parents=True, exist_ok=True)
    with write_answer(store.answer_path(DAY)) as out:
        out.write(json.dumps(records).encode())


def load(resources: dict, instance: dg.DagsterInstance, assets: list = LOAD):
    """One run of `assets` for DAY; the run and its log lines."""
    result = materialize_days(str(DAY), str(DAY), resources, assets=assets, instance=instance)
    return result, run_log(instance, result.run_id)


def second_database(postgres_uri: str, database_dsn: str) -> str:
    name = "other_" + psycopg.conninfo.conninfo_to_dict(database_dsn)["dbname"][-12:]
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return psycopg.conninfo.make_conninfo(database_dsn, dbname=name)


def test_the_copy_path_and_the_on_conflict_path_store_the_same_rows_first_wins(
    postgres_uri: str, bamboo_home: Path, database_dsn: str
) -> None:
    store_answer(bamboo_home, FIRST + AGAIN)
    instance = dg.DagsterInstance.ephemeral()

    fresh = local_resources(bamboo_home, PostgresWarehouse(dsn=database_dsn))
    result, log = load(fresh, instance)
    assert result.success
    assert f"{DAY}: no row of public.solutions between" in "\n".join(log)
    copied = query(database_dsn, ROWS)

    # A row inside the day's created_at range, of a user the day does not have: nothing of
    # the day conflicts with it, but the load can no longer know that without ON CONFLICT.
    other = second_database(postgres_uri, database_dsn)
    with PostgresWarehouse(dsn=other).connect() as conn:
        conn.execute(
            "INSERT INTO public.solutions (user_id, attempt_type, created_at)"
            " VALUES ('already-there', 'run', %s)",
            (f"{DAY} 10:03:00",),
        )
    result, log = load(local_resources(bamboo_home, PostgresWarehouse(dsn=other)), instance)
    assert result.success
    assert f"{DAY}: public.solutions has rows between" in "\n".join(log)
    assert query(other, ROWS) == copied

    assert len(copied) == len(FIRST)
    by_user = {row[0]: row for row in copied}
    for sent in FIRST:
        stored = by_user[sent["lti_user_id"]]
        assert (stored[2], stored[4]) == ("first", sent["is_correct"])

    # A reload of the same day takes the ON CONFLICT path and inserts nothing twice.
    result, log = load(fresh, instance)
    assert result.success
    assert f"{DAY}: public.solutions has rows between" in "\n".join(log)
    assert (
        result.asset_materializations_for_node("solutions_table")[0].metadata["inserted"].value == 0
    )
    assert query(database_dsn, ROWS) == copied


def test_a_staging_partition_emptied_by_a_crash_is_refused_until_validated_again(
    bamboo_home: Path, database_dsn: str
) -> None:
    store_answer(bamboo_home, FIRST + AGAIN)
    resources = local_resources(bamboo_home, PostgresWarehouse(dsn=database_dsn))
    instance = dg.DagsterInstance.ephemeral()
    validated, _ = load(resources, instance, assets=LOAD[:1])
    assert validated.success
    partition = f"bamboo.validated_attempts_{DAY:%Y%m%d}"
    ((persistence,),) = query(
        database_dsn, "SELECT relpersistence FROM pg_class WHERE oid = %s::regclass", (partition,)
    )
    assert persistence == "u"  # UNLOGGED: what PostgreSQL empties after a crash
    # What crash recovery does to an unlogged table, done behind the pipeline's back.
    with psycopg.connect(database_dsn) as conn:
        conn.execute(f"TRUNCATE {partition}")

    refused, _ = load(resources, instance, assets=LOAD[1:])
    assert not refused.success
    (failure,) = [e for e in refused.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert f"bamboo.validated_attempts holds 0 rows for {DAY}, but validation kept " in message
    assert f"rematerialize validated_attempts and solutions_table for {DAY}" in message
    assert query(database_dsn, "SELECT count(*) FROM public.solutions") == [(0,)]
    assert query(database_dsn, "SELECT inserted FROM bamboo.day_loads") == [(None,)]

    again, _ = load(resources, instance)
    assert again.success
    assert query(database_dsn, "SELECT count(*) FROM public.solutions") == [(len(FIRST),)]
