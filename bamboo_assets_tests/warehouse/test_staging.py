"""Staging a day: its valid rows, its rejected records and its counts are replaced whole, in
one transaction; a malformed answer changes nothing."""

from __future__ import annotations

import io
import os
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
import zstandard

from bamboo_assets.core.answer import MalformedAnswer
from bamboo_assets.resources.raw_answers import SUFFIX, read_answer
from bamboo_assets.warehouse.connection import PostgresWarehouse
from bamboo_assets.warehouse.loading import load_days
from bamboo_assets.warehouse.staging import (
    PARALLEL_FROM_BYTES,
    create_partitions,
    extracted_between,
    rejected_sample,
    stage_day,
    stage_days,
    staged_days,
    workers_for,
)
from bamboo_assets_tests.warehouse.days import UTC, answer_of, attempt, simulated, stage

DAY = date(2025, 3, 4)
OTHER = date(2025, 3, 5)
# Everything staging keeps about one day.
STAGED_ROWS = """
SELECT position, user_id, lis_result_sourcedid, is_correct, attempt_type, created_at::text
FROM bamboo.validated_attempts WHERE day = %(day)s ORDER BY position
"""
# In a stated order: a day's first days are a set, written in whatever order judging met them.
REJECTIONS = """
SELECT position, reason, record FROM bamboo.rejected_attempts WHERE day = %(day)s ORDER BY position
"""
FIRST_DAYS = """
SELECT user_id, first_day FROM bamboo.validated_first_days WHERE day = %(day)s ORDER BY user_id
"""
COUNTS = """
SELECT extracted, validated, rejected, unreadable_passback, prepared, inserted, validated_at
FROM bamboo.day_loads WHERE day = %(day)s
"""
FIRST = [
    attempt("ann", f"{DAY} 10:00:00", "a1"),
    {"lti_user_id": None, "passback_params": "{}", "is_correct": 1, "attempt_type": "submit",
     "created_at": f"{DAY} 10:01:00"},
    attempt("bob", f"{DAY} 10:02:00", "b1", is_correct=None),
]  # fmt: skip
SECOND = [attempt("cat", f"{DAY} 11:00:00", "c2"), attempt("dan", f"{DAY} 12:00:00", "d2", 0)]


def state(conn: psycopg.Connection, day: date) -> dict[str, list[tuple]]:
    return {
        name: conn.execute(statement, {"day": day}).fetchall()
        for name, statement in [
            ("rows", STAGED_ROWS),
            ("rejections", REJECTIONS),
            ("first_days", FIRST_DAYS),
            ("counts", COUNTS),
        ]
    }


def test_a_day_is_staged_as_its_answer_says_in_an_unlogged_partition(
    conn: psycopg.Connection,
) -> None:
    verdict = stage(conn, DAY, answer_of(FIRST))
    assert (verdict.extracted, verdict.valid, verdict.rejected_total) == (3, 2, 1)
    staged = state(conn, DAY)
    assert staged["rows"] == [
        (0, "ann", "a1", 1, "submit", f"{DAY} 10:00:00"),
        (2, "bob", "b1", None, "run", f"{DAY} 10:02:00"),
    ]
    ((position, reason, record),) = staged["rejections"]
    assert (position, reason) == (1, "lti_user_id is not a string")
    assert record == answer_of(FIRST[1:2]).decode()[1:-1]  # exactly as the API sent it
    assert sorted(staged["first_days"]) == [("ann", DAY), ("bob", DAY)]
    ((counts),) = staged["counts"]
    assert counts[:6] == (3, 2, 1, 0, None, None)  # not loaded yet
    assert staged_days(conn) == {DAY}
    persistence = conn.execute(
        "SELECT relpersistence FROM pg_class WHERE oid = 'bamboo.validated_attempts_20250304'"
        "::regclass"
    ).fetchone()
    assert persistence == ("u",)


def test_staging_a_day_again_replaces_all_of_it_and_nothing_of_other_days(
    conn: psycopg.Connection,
) -> None:
    stage(conn, DAY, answer_of(FIRST))
    stage(conn, OTHER, answer_of([attempt("eve", f"{OTHER} 09:00:00")]))
    other_before = state(conn, OTHER)

    verdict = stage(conn, DAY, answer_of(SECOND))

    assert (verdict.extracted, verdict.valid, verdict.rejected_total) == (2, 2, 0)
    staged = state(conn, DAY)
    assert staged["rows"] == [
        (0, "cat", "c2", 1, "submit", f"{DAY} 11:00:00"),
        (1, "dan", "d2", 0, "submit", f"{DAY} 12:00:00"),
    ]
    assert staged["rejections"] == []
    assert sorted(staged["first_days"]) == [("cat", DAY), ("dan", DAY)]
    assert staged["counts"][0][:4] == (2, 2, 0, 0)
    assert state(conn, OTHER) == other_before
    assert staged_days(conn) == {DAY, OTHER}


@pytest.mark.parametrize(
    "broken",
    [
        b'{"errors": "invalid client_key"}',
        answer_of(SECOND)[:-1],  # cut off: no closing bracket
        answer_of(SECOND)[:-1] + b", {]",
        b'[{"lti_user_id": "\xff"}]',
    ],
    ids=["error object", "cut off", "broken element", "not UTF-8"],
)
def test_a_malformed_answer_raises_and_leaves_the_days_previous_staging_untouched(
    conn: psycopg.Connection, broken: bytes
) -> None:
    stage(conn, DAY, answer_of(FIRST))
    before = state(conn, DAY)

    with pytest.raises(MalformedAnswer):
        stage(conn, DAY, broken)

    assert state(conn, DAY) == before  # rows, rejections, first days, counts and their time
    assert staged_days(conn) == {DAY}


def test_a_malformed_answer_for_a_new_day_leaves_no_trace(conn: psycopg.Connection) -> None:
    # A good record first: some rows reach the partition before the answer turns out broken.
    broken = answer_of([attempt("ann", f"{DAY} 10:00:00")] * 2)[:-1] + b", {"
    create_partitions(conn, [DAY])
    with pytest.raises(MalformedAnswer, match="truncated"):
        stage_day(conn, DAY, io.BytesIO(broken), UTC)
    assert state(conn, DAY) == {"rows": [], "rejections": [], "first_days": [], "counts": []}


def test_a_new_validation_keeps_the_counts_of_the_last_load_until_the_day_is_loaded_again(
    conn: psycopg.Connection,
) -> None:
    stage(conn, DAY, answer_of(FIRST))
    load_days(conn, [DAY])
    stage(conn, DAY, answer_of(SECOND + [attempt("fay", f"{DAY} 13:00:00")]))
    ((counts),) = state(conn, DAY)["counts"]
    assert counts[:6] == (3, 3, 0, 0, 2, 2)  # validated now; prepared/inserted of the load
    load_days(conn, [DAY])
    ((counts),) = state(conn, DAY)["counts"]
    assert counts[:6] == (3, 3, 0, 0, 3, 3)


def test_offsets_are_converted_to_the_timezone_staging_is_given(conn: psycopg.Connection) -> None:
    records = [attempt("ann", "2025-03-04T23:30:00+00:00")]
    create_partitions(conn, [DAY])
    stage_day(conn, DAY, io.BytesIO(answer_of(records)), ZoneInfo("Asia/Tokyo"))
    assert state(conn, DAY)["rows"][0][5] == "2025-03-05 08:30:00"
    assert state(conn, DAY)["first_days"] == [("ann", OTHER)]


def test_the_rejected_sample_and_the_extracted_counts_of_days(conn: psycopg.Connection) -> None:
    rejected = [{"lti_user_id": n, "x": "y" * 300} for n in range(7)]
    stage(conn, DAY, answer_of(rejected))
    stage(conn, OTHER, simulated(OTHER, 30))
    sample = rejected_sample(conn, [DAY, OTHER])
    assert [(day, position) for day, position, _, _ in sample] == [(DAY, n) for n in range(5)]
    assert all(len(record) == 200 for _, _, _, record in sample)
    assert {reason for _, _, reason, _ in sample} == {"lti_user_id is not a string"}
    assert extracted_between(conn, DAY, OTHER) == {DAY: 7, OTHER: 30}
    assert extracted_between(conn, OTHER, date(2025, 3, 31)) == {OTHER: 30}


def stored_answers(folder: Path, answers: dict[date, bytes]) -> list[tuple[date, Path]]:
    """`answers` written as Bamboo stores them (zstd), in day order."""
    stored = []
    for day, answer in sorted(answers.items()):
        path = folder / f"{day}{SUFFIX}"
        path.write_bytes(zstandard.ZstdCompressor().compress(answer))
        stored.append((day, path))
    return stored


def test_a_range_staged_by_worker_processes_is_the_range_staged_in_one(
    conn: psycopg.Connection, database_dsn: str, other_dsn: str, tmp_path: Path
) -> None:
    days = [date(2025, 3, n) for n in range(1, 6)]
    answers = {day: simulated(day, 150) for day in days}
    answers[days[2]] = answers[days[2]][:-40]  # cut off: not one JSON list
    stored = stored_answers(tmp_path, answers)

    create_partitions(conn, days)
    here = list(stage_days(conn, database_dsn, stored, "UTC", read_answer, workers=1))
    with PostgresWarehouse(dsn=other_dsn).connect() as other:
        create_partitions(other, days)
        forked = list(stage_days(other, other_dsn, stored, "UTC", read_answer, workers=2))
        assert [day for day, _ in forked] == days
        assert isinstance(dict(forked)[days[2]], MalformedAnswer)
        for (day, by_one), (_, by_two) in zip(here, forked, strict=True):
            if isinstance(by_one, MalformedAnswer):
                assert str(by_one) == str(by_two)
                continue
            assert (by_one.extracted, by_one.valid, by_one.rejected) == (
                by_two.extracted, by_two.valid, by_two.rejected
            )  # fmt: skip
            assert without_time(state(conn, day)) == without_time(state(other, day)), day


def without_time(staged: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    return {**staged, "counts": [row[:-1] for row in staged["counts"]]}


def test_only_a_range_worth_forking_for_is_staged_by_workers(tmp_path: Path) -> None:
    few = stored_answers(tmp_path, {date(2025, 3, n): simulated(date(2025, 3, n), 300)
                                    for n in range(1, 8)})  # fmt: skip
    assert workers_for(few) == 1
    big = tmp_path / "big"
    big.mkdir()
    many = stored_answers(big, {date(2025, 3, n): os.urandom(PARALLEL_FROM_BYTES // 3)
                                for n in range(1, 5)})  # fmt: skip
    assert workers_for(many) == min(os.cpu_count() or 1, 4)
    assert workers_for(many[:1]) == 1
