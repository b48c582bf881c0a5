"""The pipeline through Dagster on real PostgreSQL, with the local API, dashboard and outbox:
the notebook's metrics whatever the order days load in, reruns that change nothing, every
rejected record kept with its reason, and a table the notebook filled before Bamboo."""

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg

from bamboo_assets.resources.raw_answers import RawAnswerStore, write_answer
from bamboo_assets_tests.support.bamboo import (
    LINEAGE,
    Bamboo,
    check_evaluations,
    day_metadata,
    notebook_metrics,
    query,
    stored_metrics,
)


def test_out_of_order_loads_give_the_notebooks_metrics(
    local: Callable[..., Bamboo], bamboo_home: Path, database_dsn: str, other_dsn: str
) -> None:
    in_order = local(BAMBOO_HOME=str(bamboo_home / "a"))
    assert in_order.run("2025-03-01", "2025-03-03").success
    # Another deployment, the same days loaded one by one, the last first.
    shuffled = local(BAMBOO_HOME=str(bamboo_home / "b"), BAMBOO_DB_DSN=other_dsn)
    for day in ("2025-03-03", "2025-03-01", "2025-03-02"):
        assert shuffled.run(day).success

    expected = notebook_metrics(database_dsn)
    assert len(expected) == 3
    assert stored_metrics(database_dsn) == expected
    assert stored_metrics(other_dsn) == expected
    assert notebook_metrics(other_dsn) == expected
    # Day 3 was loaded first, so its new users first counted everyone; day 1 and 2 took theirs.
    assert expected[2][4] < expected[2][3]


def test_a_rerun_inserts_nothing_twice_and_the_dashboard_is_unchanged(
    local: Callable[..., Bamboo], bamboo_home: Path, database_dsn: str
) -> None:
    bamboo = local()
    assert bamboo.run("2025-03-01", "2025-03-02").success
    rows = query(database_dsn, "SELECT count(*), max(id) FROM public.solutions")[0]
    per_day = dict(
        query(
            database_dsn, "SELECT created_at::date::text, count(*) FROM public.solutions GROUP BY 1"
        )
    )
    sheet = (bamboo_home / "dashboard.csv").read_text()

    again = bamboo.run("2025-03-01", "2025-03-02")

    assert again.success
    assert query(database_dsn, "SELECT count(*), max(id) FROM public.solutions")[0] == rows
    assert (bamboo_home / "dashboard.csv").read_text() == sheet
    loads = day_metadata(again, "solutions_table")
    assert {day: meta["inserted"] for day, meta in loads.items()} == dict.fromkeys(per_day, 0)
    assert {day: meta["already_present"] for day, meta in loads.items()} == per_day


GOOD = {
    "lti_user_id": "a" * 32,
    "passback_params": "{'oauth_consumer_key': '', 'lis_result_sourcedid': 's'}",
    "is_correct": None,
    "attempt_type": "run",
    "created_at": "2025-03-05 08:00:00.000001",
}
# Each kind of invalid record, keyed by the reason it is kept with.
INVALID = {
    "record is not a JSON object": "just a string",
    "lti_user_id missing": {k: v for k, v in GOOD.items() if k != "lti_user_id"},
    "lti_user_id is not a string": {**GOOD, "lti_user_id": None},
    "passback_params missing": {k: v for k, v in GOOD.items() if k != "passback_params"},
    "passback_params field is not a string or null": {
        **GOOD,
        "passback_params": "{'oauth_consumer_key': 1}",
    },
    "is_correct missing": {k: v for k, v in GOOD.items() if k != "is_correct"},
    "is_correct is not 0, 1 or null": {**GOOD, "is_correct": 7},
    "attempt_type missing": {k: v for k, v in GOOD.items() if k != "attempt_type"},
    "attempt_type is not run or submit": {**GOOD, "attempt_type": "peek"},
    "created_at missing": {k: v for k, v in GOOD.items() if k != "created_at"},
    "created_at is not an ISO date-time": {**GOOD, "created_at": "05/03/2025"},
    "created_at has no time of day": {**GOOD, "created_at": "2025-03-05"},
    "text contains a NUL character": {**GOOD, "lti_user_id": "b\u0000"},
}


def test_every_invalid_kind_is_kept_with_its_reason_and_no_valid_record_is_lost(
    local: Callable[..., Bamboo], bamboo_home: Path, database_dsn: str
) -> None:
    valid = [
        {
            **GOOD,
            "lti_user_id": f"{n:032x}",
            "is_correct": [None, 0, 1, True][n % 4],
            "attempt_type": "run" if n % 4 == 0 else "submit",
            "created_at": f"2025-03-05 09:{n:02d}:00.5",
        }
        for n in range(40)
    ]
    valid.append(
        {**GOOD, "lti_user_id": "e" * 32, "passback_params": '=IMPORTXML("http://x", "//a")'}
    )
    answer = [*valid[:20], *INVALID.values(), *valid[20:]]
    raw = bamboo_home / "raw"
    raw.mkdir()
    stored = RawAnswerStore(directory=str(raw)).answer_path(date(2025, 3, 5))
    with write_answer(stored) as out:
        out.write(json.dumps(answer).encode())

    # The stored answer, from validated_attempts on (as "Materialize" of it and downstream).
    result = local().run("2025-03-05", select=LINEAGE[1:])
    assert result.success

    kept = query(
        database_dsn, "SELECT reason, record FROM bamboo.rejected_attempts ORDER BY position"
    )
    assert [reason for reason, _ in kept] == list(INVALID)
    assert [json.loads(record) for _, record in kept] == list(INVALID.values())
    loaded = query(
        database_dsn, "SELECT user_id, is_correct FROM public.solutions ORDER BY created_at"
    )
    assert len(loaded) == len(valid)
    assert {user for user, _ in loaded} == {record["lti_user_id"] for record in valid}
    assert dict(loaded)[f"{3:032x}"] == 1  # JSON true stored as 1
    validated = day_metadata(result, "validated_attempts")["2025-03-05"]
    assert validated["rejected"] == len(INVALID)
    assert validated["unreadable_passback_params"] == 1
    # 13 of 54 records rejected: far above the 5 % threshold, so the check warns.
    share = check_evaluations(result)["rejected_share_below_threshold"]
    assert not share.passed
    assert share.severity == dg.AssetCheckSeverity.WARN


def test_a_table_the_notebook_filled_keeps_working_and_its_history_is_measured(
    local: Callable[..., Bamboo], bamboo_home: Path, empty_dsn: str
) -> None:
    database_dsn = empty_dsn  # a warehouse Bamboo never touched
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

    assert local(BAMBOO_DB_DSN=database_dsn).run("2025-03-01").success

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
