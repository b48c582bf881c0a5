"""What is inside the records: hostile strings, odd types, offsets, random records."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bamboo_assets.core.rules import Attempt, judge
from bamboo_assets.resources.raw_answers import RawAnswerStore, read_answer, write_answer
from bamboo_assets.warehouse import loading, staging
from bamboo_assets.warehouse.connection import PostgresWarehouse
from bamboo_assets_tests.failures.runs import DAY, FORMULA, LOADING, D, production, run
from bamboo_assets_tests.support.bamboo import LINEAGE, query, stored_metrics
from bamboo_assets_tests.support.faults import Answers, answer_of, day_counts

PASSBACK = "{'oauth_consumer_key': '', 'lis_result_sourcedid': 'course-v1:B+SQL-101+2024'}"
MEGABYTE = 1 << 20
SQL_TEXT = "'); DROP TABLE public.solutions; --"
CONTROL = "".join(chr(code) for code in range(1, 32)) + "\x7f\\.\\N\\\\"
UNICODE = "\u202egnp.exe\u200d\U0001f468\u200d\U0001f469 e\u0301 \u0416\u4e2d\ufeff\U0010fffd"


def attempt(user: str, minute: int, **changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "lti_user_id": user,
        "passback_params": PASSBACK,
        "is_correct": 1,
        "attempt_type": "submit",
        "created_at": f"{D} 10:{minute:02d}:00.000001",
    }
    record.update(changes)
    return record


def wide_text(rng: random.Random, characters: int) -> str:
    """Characters of four UTF-8 bytes each, random so that nothing compresses them."""
    return "".join(chr(0x1F300 + rng.randrange(0x2FF)) for _ in range(characters))


def hostile_records() -> list[tuple[dict[str, object], str | None]]:
    """(record, reason it is rejected for, or None when it must load verbatim)."""
    rng = random.Random(7)
    big = "x" * MEGABYTE
    big_unicode = wide_text(rng, MEGABYTE // 4)
    lti = {
        "oauth_consumer_key": SQL_TEXT + CONTROL,
        "lis_result_sourcedid": big_unicode,
        "lis_outcome_service_url": FORMULA + UNICODE,
    }
    return [
        (attempt(SQL_TEXT, 1), None),
        (attempt(FORMULA, 2), None),
        (attempt(CONTROL, 3), None),
        (attempt(UNICODE, 4), None),
        (attempt(wide_text(rng, 512), 5), None),  # 2 KB: the longest id the unique index takes
        (attempt("lti-everything", 6, passback_params=repr(lti)), None),
        (attempt("unreadable-passback", 7, passback_params=big + "'"), None),
        (attempt("hostile-keys", 8, **{SQL_TEXT: big, FORMULA: [UNICODE]}), None),
        (attempt(big, 9), "lti_user_id is longer than 512 characters"),
        (attempt(wide_text(rng, 513), 10), "lti_user_id is longer than 512 characters"),
        (attempt("big-type", 11, attempt_type=big), "attempt_type is not run or submit"),
        (attempt("formula-type", 12, attempt_type=FORMULA), "attempt_type is not run or submit"),
        (attempt("big-time", 13, created_at=big), "created_at is not an ISO date-time"),
        (attempt("sql-time", 14, created_at=SQL_TEXT), "created_at is not an ISO date-time"),
        (attempt("big-correct", 15, is_correct=big), "is_correct is not 0, 1 or null"),
        (attempt("\ud800", 16), "text contains a lone surrogate (not valid Unicode)"),
        (
            attempt("surrogate-lti", 17, passback_params=repr({"oauth_consumer_key": "a\udfff"})),
            "text contains a lone surrogate (not valid Unicode)",
        ),
        (attempt("nul\x00", 18), "text contains a NUL character"),
        (
            attempt("far-future", 19, created_at="9999-12-31T23:00:00-05:00"),
            "created_at is out of range once converted to the timezone",
        ),
        (
            attempt("ancient", 20, created_at="0001-01-01T01:00:00+14:00"),
            "created_at is out of range once converted to the timezone",
        ),
        (SQL_TEXT, "record is not a JSON object"),
        ([big_unicode, {FORMULA: CONTROL}], "record is not a JSON object"),
    ]


def test_hostile_strings_in_every_field_are_kept_with_a_reason_or_loaded_verbatim(
    env: dict[str, str], answers: Answers, database_dsn: str
) -> None:
    cases = hostile_records()
    answers.by_day[D] = answer_of([record for record, _ in cases])

    outcome = run(production(), select=LOADING)

    assert outcome.success, outcome.errors()
    rejected = query(
        database_dsn,
        "SELECT position, reason, record FROM bamboo.rejected_attempts WHERE day = %s",
        (DAY,),
    )
    expected_rejected = [
        (position, reason, json.dumps(record))
        for position, (record, reason) in enumerate(cases)
        if reason is not None
    ]
    assert sorted(rejected) == expected_rejected
    loaded = query(
        database_dsn,
        "SELECT user_id, oauth_consumer_key, lis_result_sourcedid, lis_outcome_service_url,"
        " is_correct, attempt_type, created_at FROM public.solutions ORDER BY created_at",
    )
    expected_loaded = [
        tuple(judge(json.loads(json.dumps(record)), UTC)[0])
        for record, reason in cases
        if reason is None
    ]
    assert loaded == expected_loaded
    assert loaded[5][1:4] == (
        SQL_TEXT + CONTROL,
        expected_loaded[5][2],
        FORMULA + UNICODE,
    )
    assert loaded[6][1:4] == (None, None, None)  # unreadable passback_params: NULL LTI fields
    meta = outcome.metadata("validated_attempts")
    assert (meta["valid"], meta["rejected"]) == (len(expected_loaded), len(expected_rejected))


# Elements Python's json module refuses: a day each, in one run.
UNREADABLE = {
    "2025-03-05": '{"lti_user_id": "a", "is_correct": ' + "9" * 5000 + "}",  # 5000 digits
    "2025-03-06": "[" * 100_000 + "]" * 100_000,  # nested 100000 deep
}


def test_json_python_cannot_read_fails_the_day_saying_it_is_not_valid_json(
    env: dict[str, str], answers: Answers, database_dsn: str
) -> None:
    for day, element in UNREADABLE.items():
        answers.by_day[day] = f"[{element}]".encode()

    outcome = run(production(), "2025-03-05", "2025-03-06", select=LOADING)

    assert not outcome.success
    message = outcome.message()
    for day in UNREADABLE:
        said = message.split(f" {day}: ")[1].split(" | ")[0]
        assert said.startswith(f"the stored answer for {day} is not valid JSON"), day
        assert " (at validated_attempts)" in said, day
        assert day_counts(database_dsn, date.fromisoformat(day))["solutions"] == 0, day


def mostly(usual: st.SearchStrategy, odd: st.SearchStrategy) -> st.SearchStrategy:
    """`usual` four times in five, else `odd`: most records valid, hostile ones mixed in."""
    return st.integers(0, 4).flatmap(lambda n: odd if n == 0 else usual)


_plain = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
# Joined from a list: text() would drop the lone surrogate, which cannot be UTF-8 encoded.
_odd = st.lists(
    st.sampled_from(["\x00", "\ud800", "\\", "\t", "\n", "\r", "'", '"', "=", "N", "."])
    | st.characters(codec="utf-8"),
    max_size=12,
).map("".join)
_text = mostly(_plain, _odd)
_user = mostly(_text | st.sampled_from(["u1", "u2"]), st.sampled_from([None, 7, "x" * 513]))
_passback = mostly(
    st.builds(
        lambda key, sourcedid, url: repr(
            {"oauth_consumer_key": key, "lis_result_sourcedid": sourcedid}
            | ({} if url is None else {"lis_outcome_service_url": url})
        ),
        _text,
        _text,
        _text | st.none(),
    ),
    _text | st.none() | st.integers(),
)
_offsets = st.integers(-1439, 1439).map(lambda minutes: timezone(timedelta(minutes=minutes)))
_moment = st.datetimes(
    min_value=datetime(1, 1, 1),
    max_value=datetime(9999, 12, 31, 23, 59, 59),
    timezones=st.none() | _offsets,
)
_iso = st.builds(lambda moment, sep: moment.isoformat(sep=sep), _moment, st.sampled_from(" T"))
_created_at = mostly(
    _iso | st.sampled_from(["2025-03-05 10:00:00", "2025-03-05T10:00:00Z"]),
    _text | st.just("2025-03-05"),
)
_record = st.fixed_dictionaries(
    {
        "lti_user_id": _user,
        "passback_params": _passback,
        "is_correct": mostly(
            st.sampled_from([None, 0, 1, True, False]), st.integers() | st.floats() | _text
        ),
        "attempt_type": mostly(st.sampled_from(["run", "submit"]), _text),
        "created_at": _created_at,
    },
    optional={"extra": _text},
)


@pytest.fixture
def load_day(bamboo_home: Path, database_dsn: str):
    """The load the pipeline runs for one day, without Dagster: validated_attempts' staging of
    the stored answer, then solutions_table's insert, on the test database."""
    warehouse = PostgresWarehouse(dsn=database_dsn)
    raw = RawAnswerStore(directory=str(bamboo_home / "raw"))
    Path(raw.directory).mkdir(parents=True)

    def load(answer: bytes) -> tuple[list[tuple], list[tuple]]:
        """The rows in public.solutions, and (position, reason, record) of each rejection."""
        with write_answer(raw.answer_path(DAY)) as out:
            out.write(answer)
        with warehouse.connect() as conn, read_answer(raw.answer_path(DAY)) as stored:
            conn.execute("TRUNCATE public.solutions")
            if DAY not in staging.staged_days(conn):
                staging.create_partitions(conn, [DAY])
            staging.stage_day(conn, DAY, stored, UTC)
            loading.load_days(conn, [DAY])
            stored = conn.execute(
                "SELECT user_id, oauth_consumer_key, lis_result_sourcedid,"
                " lis_outcome_service_url, is_correct, attempt_type, created_at"
                " FROM public.solutions ORDER BY id"
            ).fetchall()
            rejected = conn.execute(
                "SELECT position, reason, record FROM bamboo.rejected_attempts"
                " WHERE day = %s ORDER BY position",
                (DAY,),
            ).fetchall()
        return stored, rejected

    return load


@settings(
    max_examples=settings.default.max_examples // 2,  # each example loads a day
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=st.lists(_record | _text, max_size=12))
def test_every_valid_random_record_round_trips_into_public_solutions_unchanged(
    load_day, records: list[object]
) -> None:
    stored, rejected = load_day(answer_of(records))

    expected: dict[tuple[str, datetime], tuple] = {}
    expected_rejected = []
    for position, record in enumerate(records):
        outcome, _ = judge(json.loads(json.dumps(record)), UTC)
        if isinstance(outcome, Attempt):
            expected.setdefault((outcome.user_id, outcome.created_at), tuple(outcome))
        else:
            expected_rejected.append((position, outcome.reason, json.dumps(record)))
    assert sorted(stored, key=repr) == sorted(expected.values(), key=repr)
    assert rejected == expected_rejected


def test_booleans_are_stored_as_integers_and_nul_records_are_rejected_while_the_day_loads(
    env: dict[str, str], answers: Answers, database_dsn: str
) -> None:
    nul_lti = "{'oauth_consumer_key': '', 'lis_result_sourcedid': 'a\\x00b'}"
    records = [
        attempt("true-user", 1, is_correct=True),
        attempt("false-user", 2, is_correct=False),
        attempt("nul\x00user", 3),
        attempt("nul-lti", 4, passback_params=nul_lti),
        *[attempt(f"user-{n}", 10 + n, is_correct=n % 2) for n in range(20)],
    ]
    answers.by_day[D] = answer_of(records)

    outcome = run(production(), select=LOADING)

    assert outcome.success, outcome.errors()
    assert query(
        database_dsn, "SELECT position, reason FROM bamboo.rejected_attempts ORDER BY position"
    ) == [(2, "text contains a NUL character"), (3, "text contains a NUL character")]
    stored = dict(query(database_dsn, "SELECT user_id, is_correct FROM public.solutions"))
    assert (stored.pop("true-user"), stored.pop("false-user")) == (1, 0)
    assert stored == {f"user-{n}": n % 2 for n in range(20)}
    assert outcome.metadata("solutions_table")["inserted"] == 22


OFFSET_TIMES = {
    "2025-03-05T13:00:00+03:00": datetime(2025, 3, 5, 10, 0),
    "2025-03-05T10:00:01Z": datetime(2025, 3, 5, 10, 0, 1),
    "2025-03-05T10:00:02.5+00:00": datetime(2025, 3, 5, 10, 0, 2, 500000),
    "2025-03-05T04:30:03-05:30": datetime(2025, 3, 5, 10, 0, 3),
    "2025-03-05 10:00:04": datetime(2025, 3, 5, 10, 0, 4),
    "2025-03-05T23:30:00-02:00": datetime(2025, 3, 6, 1, 30),
    "2025-03-05T01:00:00+05:00": datetime(2025, 3, 4, 20, 0),
}


@pytest.fixture
def tokyo_dsn(other_dsn: str) -> str:
    """A second empty database, reached with the session TimeZone set to Asia/Tokyo."""
    return psycopg.conninfo.make_conninfo(other_dsn, options="-c TimeZone=Asia/Tokyo")


def test_offsets_are_converted_to_the_timezone_whatever_the_session_timezone(
    env: dict[str, str],
    answers: Answers,
    database_dsn: str,
    tokyo_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers.by_day[D] = answer_of(
        [attempt(f"user-{n}", 0, created_at=text) for n, text in enumerate(OFFSET_TIMES)]
    )
    expected = [(f"user-{n}", stored) for n, stored in enumerate(OFFSET_TIMES.values())]
    loads = {}
    for dsn in (database_dsn, tokyo_dsn):
        monkeypatch.setenv("BAMBOO_DB_DSN", dsn)
        assert run(production(), select=LINEAGE[:4]).success
        loads[dsn] = query(dsn, "SELECT user_id, created_at FROM public.solutions ORDER BY 1")
    assert query(tokyo_dsn, "SHOW TimeZone") == [("Asia/Tokyo",)]
    assert loads[database_dsn] == loads[tokyo_dsn] == expected
    assert stored_metrics(tokyo_dsn) == stored_metrics(database_dsn)
    assert [row[:2] for row in stored_metrics(database_dsn)] == [
        ("2025-03-04", 1),
        ("2025-03-05", 5),
        ("2025-03-06", 1),
    ]
