"""The pipeline through Dagster on real PostgreSQL, with the local API, dashboard and outbox."""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg

from bamboo_assets.resources.raw_answers import RawAnswerStore, write_answer
from bamboo_assets.resources.warehouse import PostgresWarehouse
from bamboo_assets_tests.helpers import (
    local_resources,
    materialize_days,
    notebook_metrics,
    query,
    stored_metrics,
)


def test_out_of_order_loads_give_the_notebooks_metrics(
    postgres_uri: str, bamboo_home: Path, database_dsn: str
) -> None:
    in_order = database_dsn
    out_of_order = psycopg.conninfo.make_conninfo(
        database_dsn, dbname="ooo_" + database_dsn.split("dbname=")[-1][-12:]
    )
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(
            f'CREATE DATABASE "{psycopg.conninfo.conninfo_to_dict(out_of_order)["dbname"]}"'
        )

    ordered = local_resources(bamboo_home / "a", PostgresWarehouse(dsn=in_order))
    assert materialize_days("2025-03-01", "2025-03-03", ordered).success
    shuffled = local_resources(bamboo_home / "b", PostgresWarehouse(dsn=out_of_order))
    for day in ("2025-03-03", "2025-03-01", "2025-03-02"):
        assert materialize_days(day, day, shuffled).success

    expected = notebook_metrics(in_order)
    assert len(expected) == 3
    assert stored_metrics(in_order) == expected
    assert stored_metrics(out_of_order) == expected
    assert notebook_metrics(out_of_order) == expected
    # Day 3 was loaded first, so its new users first counted everyone; day 1 and 2 took theirs.
    assert expected[2][4] < expected[2][3]


def test_a_rerun_inserts_nothing_twice_and_the_dashboard_is_unchanged(
    bamboo_home: Path, warehouse: PostgresWarehouse, database_dsn: str
) -> None:
    resources = local_resources(bamboo_home, warehouse)
    assert materialize_days("2025-03-01", "2025-03-02", resources).success
    rows = query(database_dsn, "SELECT count(*), max(id) FROM public.solutions")[0]
    sheet = (bamboo_home / "dashboard.csv").read_text()

    again = materialize_days("2025-03-01", "2025-03-02", resources)
    assert again.success
    assert query(database_dsn, "SELECT count(*), max(id) FROM public.solutions")[0] == rows
    assert (bamboo_home / "dashboard.csv").read_text() == sheet
    solutions = again.asset_materializations_for_node("solutions_table")[0]
    assert solutions.metadata["inserted"].value == 0
    assert solutions.metadata["already_present"].value == rows[0]


def test_every_invalid_kind_is_kept_with_its_reason_and_no_valid_record_is_lost(
    bamboo_home: Path, warehouse: PostgresWarehouse, database_dsn: str
) -> None:
    good = {
        "lti_user_id": "a" * 32,
        "passback_params": "{'oauth_consumer_key': '', 'lis_result_sourcedid': 's'}",
        "is_correct": None,
        "attempt_type": "run",
        "created_at": "2025-03-05 08:00:00.000001",
    }
    cases = {
        "record is not a JSON object": "just a string",
        "lti_user_id missing": {k: v for k, v in good.items() if k != "lti_user_id"},
        "lti_user_id is not a string": {**good, "lti_user_id": None},
        "passback_params missing": {k: v for k, v in good.items() if k != "passback_params"},
        "passback_params field is not a string or null": {
            **good,
            "passback_params": "{'oauth_consumer_key': 1}",
        },
        "is_correct missing": {k: v for k, v in good.items() if k != "is_correct"},
        "is_correct is not 0, 1 or null": {**good, "is_correct": 7},
        "attempt_type missing": {k: v for k, v in good.items() if k != "attempt_type"},
        "attempt_type is not run or submit": {**good, "attempt_type": "peek"},
        "created_at missing": {k: v for k, v in good.items() if k != "created_at"},
        "created_at is not an ISO date-time": {**good, "created_at": "05/03/2025"},
        "created_at has no time of day": {**good, "created_at": "2025-03-05"},
        "text contains a NUL character": {**good, "lti_user_id": "b\u0000"},
    }
    valid = [
        {
            **good,
            "lti_user_id": f"{n:032x}",
            "is_correct": [None, 0, 1, True][n % 4],
            "attempt_type": "run" if n % 4 == 0 else "submit",
            "created_at": f"2025-03-05 09:{n:02d}:00.5",
        }
        for n in range(40)
    ]
    valid.append(
        {**good, "lti_user_id": "e" * 32, "passback_params": '=IMPORTXML("http://x", "//a")'}
    )
    answer = [*valid[:20], *cases.values(), *valid[20:]]
    raw = bamboo_home / "raw"
    raw.mkdir()
    stored = RawAnswerStore(directory=str(raw)).answer_path(date(2025, 3, 5))
    with write_answer(stored) as out:
        out.write(json.dumps(answer).encode())

    resources = local_resources(bamboo_home, warehouse)
    result = materialize_days(
        "2025-03-05", "2025-03-05", resources, assets=None, selection="validated_attempts*"
    )
    assert result.success

    kept = query(
        database_dsn, "SELECT reason, record FROM bamboo.rejected_attempts ORDER BY position"
    )
    assert [reason for reason, _ in kept] == list(cases)
    assert [json.loads(record) for _, record in kept] == list(cases.values())
    loaded = query(
        database_dsn, "SELECT user_id, is_correct FROM public.solutions ORDER BY created_at"
    )
    assert len(loaded) == len(valid)
    assert {user for user, _ in loaded} == {record["lti_user_id"] for record in valid}
    assert dict(loaded)[f"{3:032x}"] == 1  # JSON true stored as 1
    metrics = result.asset_materializations_for_node("validated_attempts")[0].metadata
    assert metrics["rejected"].value == len(cases)
    assert metrics["unreadable_passback_params"].value == 1
    # 13 of 54 records rejected: far above the 5 % threshold, so the check warns.
    (share,) = [
        check
        for check in result.get_asset_check_evaluations()
        if check.check_name == "rejected_share_below_threshold"
    ]
    assert not share.passed
    assert share.severity == dg.AssetCheckSeverity.WARN


def test_a_table_the_notebook_filled_keeps_working_and_its_history_is_measured(
    bamboo_home: Path, warehouse: PostgresWarehouse, database_dsn: str
) -> None:
    with psycopg.connect(database_dsn) as conn:  # the notebook's own table and rows
        conn.execute(
            """CREATE TABLE IF NOT EXISTS public.solutions (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id TEXT NOT NULL,
                oauth_consumer_key TEXT, lis_result_sourcedid TEXT, lis_outcome_service_url TEXT,
                is_correct INT CHECK (is_correct in (0, 1) OR is_correct is NULL),
                attempt_type TEXT CHECK (attempt_type in ('run', 'submit')) NOT NULL,
                created_at TIMESTAMP NOT NULL,
                CONSTRAINT unique_check UNIQUE (user_id, created_at))"""
        )
        conn.execute(
            "INSERT INTO public.solutions (user_id, is_correct, attempt_type, created_at) VALUES"
            " ('old-1', 1, 'submit', '2025-02-27 09:00'),"
            " ('old-2', NULL, 'run', '2025-02-27 10:00'),"
            " ('old-1', 0, 'submit', '2025-02-28 11:00')"
        )
    result = materialize_days("2025-03-01", "2025-03-01", local_resources(bamboo_home, warehouse))
    assert result.success

    expected = notebook_metrics(database_dsn)
    assert [row[0] for row in expected] == ["2025-02-27", "2025-02-28", "2025-03-01"]
    assert expected[:2] == [("2025-02-27", 2, 1, 2, 2), ("2025-02-28", 1, 0, 1, 0)]
    assert stored_metrics(database_dsn) == expected
    dashboard = (bamboo_home / "dashboard.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in dashboard[1:]] == [
        "2025-02-27",
        "2025-02-28",
        "2025-03-01",
    ]
