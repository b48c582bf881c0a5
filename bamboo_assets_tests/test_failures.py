"""Faults and hostile input, each asserting what a user sees: run status, message, tables.

Every outside system is a real server on 127.0.0.1 (bamboo_assets_tests/servers) and faults
are scripted there; resources come from the environment through settings.build_resources,
with only timeouts and backoffs shrunk so the whole file runs in well under a minute.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bamboo_assets import sql
from bamboo_assets.assets.ingest import _validate_day
from bamboo_assets.resources.dashboard import GoogleSheetsDashboard
from bamboo_assets.resources.mail import SmtpMailer
from bamboo_assets.resources.raw_answers import RawAnswerStore, write_answer
from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi
from bamboo_assets.resources.warehouse import PostgresWarehouse
from bamboo_assets.rules import Attempt, judge
from bamboo_assets.settings import build_resources, load_settings
from bamboo_assets_tests.faults import (
    Answers,
    Terminator,
    answer_of,
    database_name,
    day_counts,
    failure_message,
    materialized,
    role_with_password,
    run_log,
    simulated,
    step_errors,
    wait_for_statement,
    wait_until_gone,
)
from bamboo_assets_tests.helpers import (
    ASSETS,
    materialize_days,
    notebook_metrics,
    query,
    stored_answer,
    stored_metrics,
)
from bamboo_assets_tests.servers import (
    FakeGoogleSheets,
    FakeStatisticsApi,
    Hang,
    Reply,
    SmtpServer,
    Truncated,
    closed_port,
)

KEY = "sk-test-2f8d41c9"
DAY = date(2025, 3, 5)
D = DAY.isoformat()
SHEET = "sheet-failures"
LOADING = ASSETS[:3]  # raw_attempts, validated_attempts, solutions_table

# Variables that would switch a resource to a real system if the shell running the tests
# happened to set them.
OUTSIDE = (
    "ITRESUME_URL",
    "ITRESUME_CLIENT",
    "ITRESUME_CLIENT_KEY",
    "CLIENT_KEY_Skillfactory",
    "ITRESUME_RETRIES",
    "ITRESUME_CONNECT_TIMEOUT_SECONDS",
    "ITRESUME_READ_TIMEOUT_SECONDS",
    "ITRESUME_PARALLEL_REQUESTS",
    "BAMBOO_DB_DSN",
    "DB_DSN_bamboo",
    "GOOGLE_SERVICE_ACCOUNT_FILE",
    "DASHBOARD_SPREADSHEET_ID",
    "DASHBOARD_WORKSHEET_NAME",
    "GOOGLE_SHEETS_API_URL",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_SECURITY",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "GOOGLE_APP_PASS",
    "SMTP_CA_FILE",
    "DIGEST_SENDER",
    "DIGEST_RECIPIENTS",
    "BAMBOO_SIMULATED_RECORDS_PER_DAY",
    "PGTZ",
)


@dataclass
class Run:
    """One run and the instance that recorded it."""

    result: dg.ExecuteInProcessResult
    instance: dg.DagsterInstance
    seconds: float

    @property
    def success(self) -> bool:
        return self.result.success

    @property
    def log(self) -> list[str]:
        return run_log(self.instance, self.result.run_id)

    def errors(self) -> str:
        return "\n".join(step_errors(self.result).values())

    def metadata(self, asset: str) -> dict[str, object]:
        (event,) = self.result.asset_materializations_for_node(asset)
        return {name: value.value for name, value in event.metadata.items()}


def run(resources: dict, first: str = D, last: str | None = None, **kwargs: object) -> Run:
    """Materialize `first`..`last` the way a backfill does, on a fresh instance."""
    instance = dg.DagsterInstance.ephemeral()
    began = time.monotonic()
    result = materialize_days(first, last or first, resources, instance=instance, **kwargs)
    return Run(result, instance, time.monotonic() - began)


def production(**api: object) -> dict:
    """Resources from the environment, as definitions.py builds them; the statistics API with
    the same settings but small backoffs (and whatever `api` overrides)."""
    built = build_resources(os.environ, load_settings(os.environ))
    fields: dict[str, object] = {
        "url": os.environ["ITRESUME_URL"],
        "client": os.environ["ITRESUME_CLIENT"],
        "client_key": dg.EnvVar("ITRESUME_CLIENT_KEY"),
        "connect_timeout_seconds": 2.0,
        "read_timeout_seconds": 5.0,
        "backoff_seconds": 0.01,
    }
    fields.update(api)
    built["statistics_api"] = ItresumeStatisticsApi(**fields)
    return built


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def api(answers: Answers) -> Iterator[FakeStatisticsApi]:
    with FakeStatisticsApi(answers, client_key=KEY) as server:
        yield server


@pytest.fixture
def env(
    api: FakeStatisticsApi, database_dsn: str, bamboo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The real API (the fake), the test database, and the local dashboard and outbox."""
    for name in OUTSIDE:
        monkeypatch.delenv(name, raising=False)
    values = {
        "BAMBOO_HOME": str(bamboo_home),
        "ITRESUME_URL": api.url,
        "ITRESUME_CLIENT": "acme",
        "ITRESUME_CLIENT_KEY": KEY,
        "BAMBOO_DB_DSN": database_dsn,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def sheets() -> Iterator[FakeGoogleSheets]:
    with FakeGoogleSheets(strict_grid=True) as server:
        server.add_spreadsheet(SHEET, ("Sheet1",))
        yield server


def use_sheets(
    sheets: FakeGoogleSheets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worksheet: str
) -> None:
    key_file = sheets.write_service_account_file(tmp_path / "service-account.json")
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT_FILE", str(key_file))
    monkeypatch.setenv("DASHBOARD_SPREADSHEET_ID", SHEET)
    monkeypatch.setenv("DASHBOARD_WORKSHEET_NAME", worksheet)
    monkeypatch.setenv("GOOGLE_SHEETS_API_URL", sheets.base_url)


def raw_dir(env: dict[str, str]) -> Path:
    return Path(env["BAMBOO_HOME"]) / "raw"


# -- 1-4: the statistics API failing ---------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_api_errors_are_retried_with_backoff_honouring_retry_after(
    env: dict[str, str], api: FakeStatisticsApi, status: int
) -> None:
    # Servers send Retry-After with 429 and 503; it is honoured whatever the status.
    first = Reply(
        status, b'{"errors": "busy"}', {"Retry-After": "1"} if status in (429, 503) else {}
    )
    api.fail_next(first, Reply(status, b"<html>busy</html>"))

    outcome = run(production(), assets=ASSETS[:1])

    assert outcome.success
    assert stored_answer(raw_dir(env) / f"{D}.json.zst") == simulated(DAY, 30)
    retries = [line for line in outcome.log if "retrying" in line]
    assert retries == [
        f"statistics API: HTTP {status}; retrying (attempt 2 of 3, waiting "
        f"{1.0 if status in (429, 503) else 0.0:.1f}s)",
        f"statistics API: HTTP {status}; retrying (attempt 3 of 3, waiting 0.0s)",
    ]
    first_gap = api.request_times[1] - api.request_times[0]
    assert first_gap >= (0.95 if status in (429, 503) else 0.0)
    assert len(api.requests) == 3


def test_a_retry_after_of_hours_is_capped_so_the_run_is_not_stalled(
    env: dict[str, str], api: FakeStatisticsApi
) -> None:
    api.fail_next(Reply(429, b"", {"Retry-After": "21600"}))
    outcome = run(production(retry_after_max_seconds=0.2), assets=ASSETS[:1])
    assert outcome.success
    assert outcome.seconds < 10
    assert any("HTTP 429; retrying (attempt 2 of 3, waiting 0.2s)" in m for m in outcome.log)


def test_an_api_that_keeps_failing_fails_the_days_loads_nothing_and_a_rerun_recovers(
    env: dict[str, str], api: FakeStatisticsApi, answers: Answers, database_dsn: str
) -> None:
    before, fresh = DAY, DAY + timedelta(days=1)
    assert run(production()).success
    kept_answer = stored_answer(raw_dir(env) / f"{before}.json.zst")
    kept_counts = day_counts(database_dsn, before)
    assert kept_counts["solutions"] > 0

    # The API now has a different answer for the earlier day, but answers 503 to every try.
    answers.by_day[str(before)] = simulated(before, 45)
    api.fail_next(*[Reply(503, b'{"errors": "maintenance"}')] * 6)
    failed = run(production(), str(before), str(fresh))

    assert not failed.success
    message = failure_message(failed.result, "raw_attempts")
    assert "2 of 2 days not fetched; nothing was loaded for them" in message
    for day in (before, fresh):
        assert (
            f"{day}: statistics API {api.url} (client acme) answered HTTP 503 for {day} "
            "after 3 tries"
        ) in message
    assert materialized(failed.result) == set()
    assert stored_answer(raw_dir(env) / f"{before}.json.zst") == kept_answer
    assert not (raw_dir(env) / f"{fresh}.json.zst").exists()
    assert day_counts(database_dsn, before) == kept_counts
    assert day_counts(database_dsn, fresh) == dict.fromkeys(kept_counts, 0)

    recovered = run(production(), str(before), str(fresh))
    assert recovered.success
    assert stored_answer(raw_dir(env) / f"{before}.json.zst") == simulated(before, 45)
    assert day_counts(database_dsn, fresh)["solutions"] > 0
    assert stored_metrics(database_dsn) == notebook_metrics(database_dsn)


def test_a_hanging_api_fails_quickly_with_small_timeouts_saying_it_did_not_answer(
    env: dict[str, str], api: FakeStatisticsApi, database_dsn: str
) -> None:
    api.fail_next(Hang(30), Hang(30))
    outcome = run(production(read_timeout_seconds=0.5, retries=1), assets=LOADING)

    assert not outcome.success
    message = failure_message(outcome.result, "raw_attempts")
    assert f"did not answer for {D} within the 2s connect / 0.5s read timeout (2 tries)" in message
    assert outcome.seconds < 10
    assert any("statistics API: ReadTimeoutError; retrying" in line for line in outcome.log)
    assert day_counts(database_dsn, DAY)["solutions"] == 0


def test_the_default_api_settings_give_up_on_a_silent_api_within_five_minutes() -> None:
    api = ItresumeStatisticsApi(client="acme", client_key="k")
    tries = api.retries + 1
    waits = [
        max(min(api.backoff_seconds * 2**n, api.backoff_max_seconds), api.retry_after_max_seconds)
        for n in range(1, tries)
    ]
    worst = tries * (api.connect_timeout_seconds + api.read_timeout_seconds) + sum(waits)
    assert (api.connect_timeout_seconds, api.read_timeout_seconds, api.retries) == (10, 75, 2)
    assert worst < 300


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_fails_at_once_without_retries_or_the_key(
    env: dict[str, str], api: FakeStatisticsApi, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    wrong = "sk-live-WRONG-7f3a9e"
    if status == 401:
        monkeypatch.setenv("ITRESUME_CLIENT_KEY", wrong)  # the fake answers 401 to a wrong key
    else:
        api.fail_next(Reply(403, b'{"errors": "client disabled"}'))

    outcome = run(production())

    assert not outcome.success
    assert len(api.requests) == 1
    message = failure_message(outcome.result, "raw_attempts")
    assert f"refused the client key (HTTP {status}); check ITRESUME_CLIENT and " in message
    everything = outcome.errors() + "\n".join(outcome.log)
    assert wrong not in everything and KEY not in everything


# -- 5: answers that are not a usable JSON list ---------------------------------------------


def test_a_cut_off_body_fails_the_day_and_keeps_the_bytes_received(
    env: dict[str, str], api: FakeStatisticsApi, answers: Answers, database_dsn: str
) -> None:
    body = simulated(DAY, 8000)  # > 2 MB, so whole 1 MB chunks arrive before the cut
    answers.by_day[D] = body
    api.fail_next(Truncated(keep_bytes=len(body) - 1000))

    outcome = run(production(), assets=LOADING)

    assert not outcome.success
    message = failure_message(outcome.result, "raw_attempts")
    assert f"cut off the answer for {D} after " in message
    assert f" of {len(body)} bytes (ChunkedEncodingError); nothing was loaded for {D}" in message
    (partial,) = (raw_dir(env) / "incoming").glob(f"{D}-*.json.zst")
    assert f"the bytes received are kept at {partial}" in message
    assert 0 < partial.stat().st_size < len(body)
    assert body.startswith(stored_answer(partial))
    assert not (raw_dir(env) / f"{D}.json.zst").exists()
    assert day_counts(database_dsn, DAY)["solutions"] == 0


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "it starts '<html><body>502 Bad Gateway"),
        (b'{"errors": "client_key expired"}', 'it starts \'{"errors": "client_key expired"}\''),
        (b"", "it is empty"),
        (b'[{"lti_user_id": "a", "passback_params": nul', "it is cut off (no closing ']')"),
    ],
    ids=["html", "error-object", "empty", "cut-off-list"],
)
def test_an_answer_that_is_not_a_json_list_is_set_aside_and_nothing_is_loaded(
    env: dict[str, str], api: FakeStatisticsApi, database_dsn: str, body: bytes, says: str
) -> None:
    api.fail_next(Reply(200, body, {"Content-Type": "text/html"}))

    outcome = run(production(), assets=LOADING)

    assert not outcome.success
    message = failure_message(outcome.result, "raw_attempts")
    (kept,) = (raw_dir(env) / "failed").glob(f"{D}-*.json.zst")
    assert f"the answer for {D} is not a JSON list: {says}" in message
    assert f"kept at {kept}" in message
    assert stored_answer(kept) == body
    assert not (raw_dir(env) / f"{D}.json.zst").exists()
    assert day_counts(database_dsn, DAY) == dict.fromkeys(day_counts(database_dsn, DAY), 0)


def test_a_list_with_broken_json_inside_fails_validation_and_loads_nothing(
    env: dict[str, str], api: FakeStatisticsApi, answers: Answers, database_dsn: str
) -> None:
    good = json.loads(simulated(DAY, 30))
    body = answer_of(good)[:-1] + b', {"lti_user_id": "x" "is_correct": 1}]'
    answers.by_day[D] = body

    outcome = run(production(), assets=LOADING)

    assert not outcome.success
    message = failure_message(outcome.result, "validated_attempts")
    stored = raw_dir(env) / f"{D}.json.zst"
    assert f"the stored answer for {D} is not valid JSON" in message
    assert f"it is kept at {stored} for inspection and nothing was loaded for {D}" in message
    assert stored_answer(stored) == body
    assert day_counts(database_dsn, DAY) == dict.fromkeys(day_counts(database_dsn, DAY), 0)


# -- 6-8: what is inside the records --------------------------------------------------------

PASSBACK = "{'oauth_consumer_key': '', 'lis_result_sourcedid': 'course-v1:B+SQL-101+2024'}"
MEGABYTE = 1 << 20
SQL_TEXT = "'); DROP TABLE public.solutions; --"
FORMULA = '=IMPORTXML("http://x","//a")'
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

    outcome = run(production(), assets=LOADING)

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


@pytest.mark.parametrize(
    "element",
    ['{"lti_user_id": "a", "is_correct": ' + "9" * 5000 + "}", "[" * 100_000 + "]" * 100_000],
    ids=["5000-digit-number", "nested-100000-deep"],
)
def test_json_python_cannot_read_fails_the_day_saying_it_is_not_valid_json(
    env: dict[str, str], answers: Answers, database_dsn: str, element: str
) -> None:
    answers.by_day[D] = f"[{element}]".encode()
    outcome = run(production(), assets=LOADING)
    assert not outcome.success
    assert "is not valid JSON" in failure_message(outcome.result, "validated_attempts")
    assert day_counts(database_dsn, DAY)["solutions"] == 0


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
    """The load the pipeline runs for one day, without Dagster: the validated_attempts step's
    `_validate_day`, then solutions_table's insert, on the test database."""
    warehouse = PostgresWarehouse(dsn=database_dsn)
    raw = RawAnswerStore(directory=str(bamboo_home / "raw"))
    Path(raw.directory).mkdir(parents=True)

    def load(answer: bytes) -> tuple[list[tuple], list[tuple]]:
        """The rows in public.solutions, and (position, reason, record) of each rejection."""
        with write_answer(raw.answer_path(DAY)) as out:
            out.write(answer)
        with warehouse.connect() as conn:
            conn.execute("TRUNCATE public.solutions")
            _validate_day(conn, DAY, raw)
            with conn.transaction():
                conn.execute(sql.INSERT_SOLUTIONS, (DAY,))
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
    max_examples=50,
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

    outcome = run(production(), assets=LOADING)

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
def tokyo_dsn(postgres_uri: str, database_dsn: str) -> Iterator[str]:
    """A second empty database, reached with the session TimeZone set to Asia/Tokyo."""
    name = database_name(database_dsn) + "_tokyo"
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield psycopg.conninfo.make_conninfo(
        postgres_uri, dbname=name, options="-c TimeZone=Asia/Tokyo"
    )
    with psycopg.connect(postgres_uri, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


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
        assert run(production(), assets=ASSETS[:4]).success
        loads[dsn] = query(dsn, "SELECT user_id, created_at FROM public.solutions ORDER BY 1")
    assert query(tokyo_dsn, "SHOW TimeZone") == [("Asia/Tokyo",)]
    assert loads[database_dsn] == loads[tokyo_dsn] == expected
    assert stored_metrics(tokyo_dsn) == stored_metrics(database_dsn)
    assert [row[:2] for row in stored_metrics(database_dsn)] == [
        ("2025-03-04", 1),
        ("2025-03-05", 5),
        ("2025-03-06", 1),
    ]


# -- 9: a day without attempts --------------------------------------------------------------

HEADER = [
    "study_date",
    "attempts_per_day_total",
    "correct_attempts_per_day",
    "unique_users_per_day",
    "new_users_per_day",
]


def test_a_day_without_attempts_succeeds_with_zero_counts_everywhere(
    env: dict[str, str],
    answers: Answers,
    database_dsn: str,
    sheets: FakeGoogleSheets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers.by_day[D] = b"[]"
    use_sheets(sheets, tmp_path, monkeypatch, "Metrics")
    with SmtpServer() as smtp:
        for name, value in {
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "DIGEST_SENDER": "etl@example.org",
            "DIGEST_RECIPIENTS": "lead@example.org",
        }.items():
            monkeypatch.setenv(name, value)
        outcome = run(production())

    assert outcome.success, outcome.errors()
    validated = outcome.metadata("validated_attempts")
    assert (validated["extracted"], validated["valid"], validated["rejected"]) == (0, 0, 0)
    loaded = outcome.metadata("solutions_table")
    assert (loaded["prepared"], loaded["inserted"]) == (0, 0)
    assert stored_metrics(database_dsn) == []
    assert sheets.grid(SHEET, "Metrics") == [HEADER]
    (message,) = smtp.messages
    body = message.get_content()
    for line in (
        "Rows extracted by API: 0",
        "Rows validated: 0",
        "Rows prepared to insert to DB: 0",
        "New rows inserted to DB: 0",
    ):
        assert line in body


# -- 10-12: the warehouse going away, a killed process, two runs at once --------------------


def test_a_warehouse_that_is_down_fails_naming_it_without_the_password(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv(
        "BAMBOO_DB_DSN", f"host=127.0.0.1 port={port} dbname=bamboo user=etl password=pw-9c1e77"
    )
    outcome = run(production(), assets=LOADING)

    assert not outcome.success
    assert materialized(outcome.result) == {"raw_attempts"}  # the answer is kept for a rerun
    message = failure_message(outcome.result, "validated_attempts")
    assert message.startswith(
        "bamboo_assets.resources.warehouse.WarehouseUnavailable: cannot connect to the "
        "warehouse (database bamboo on 127.0.0.1): "
    )
    assert "pw-9c1e77" not in outcome.errors() + "\n".join(outcome.log)


def lock_out(dsn: str, key: tuple[str, datetime]) -> psycopg.Connection:
    """An open transaction holding an uncommitted row with `key`: the day's INSERT waits for
    it on the unique index after writing every row ordered before it."""
    blocker = psycopg.connect(dsn)
    blocker.execute(
        "INSERT INTO public.solutions (user_id, attempt_type, created_at) VALUES (%s, 'run', %s)",
        key,
    )
    return blocker


def last_key(dsn: str, day: date) -> tuple[str, datetime]:
    """The (user_id, created_at) the day's INSERT reaches last (it inserts in that order)."""
    row = query(
        dsn,
        "SELECT user_id, created_at FROM bamboo.validated_attempts WHERE day = %s"
        " ORDER BY user_id DESC, created_at DESC LIMIT 1",
        (day,),
    )[0]
    return row[0], row[1]


@pytest.mark.parametrize("statement", ["COPY", "INSERT INTO public.solutions"])
def test_a_connection_lost_mid_load_leaves_no_partial_day_and_a_rerun_completes(
    env: dict[str, str],
    answers: Answers,
    database_dsn: str,
    postgres_uri: str,
    statement: str,
) -> None:
    answers.by_day[D] = simulated(DAY, 40_000 if statement == "COPY" else 2_000)
    blocker = None
    if statement.startswith("INSERT"):
        assert run(production(), assets=ASSETS[:2]).success
        blocker = lock_out(database_dsn, last_key(database_dsn, DAY))
    terminator = Terminator(
        postgres_uri,
        database_name(database_dsn),
        statement,
        then=None if blocker is None else blocker.close,  # closing rolls the row back
    )
    terminator.start()
    outcome = run(production(), assets=LOADING)
    terminator.join(5)

    assert terminator.terminated is not None
    assert not outcome.success
    step = "validated_attempts" if statement == "COPY" else "solutions_table"
    message = failure_message(outcome.result, step)
    assert (
        "WarehouseUnavailable: lost the connection to the warehouse (database "
        f"{database_name(database_dsn)} on " in message
    )
    assert "the step's uncommitted work was rolled back" in message
    counts = day_counts(database_dsn, DAY)
    assert counts["solutions"] == 0
    if statement == "COPY":
        assert counts == dict.fromkeys(counts, 0)

    again = run(production(), assets=LOADING)
    assert again.success, again.errors()
    counts = day_counts(database_dsn, DAY)
    assert counts["solutions"] == counts["validated"] > 0


def test_a_process_killed_during_the_load_leaves_all_or_nothing_and_a_rerun_completes(
    env: dict[str, str],
    answers: Answers,
    database_dsn: str,
    postgres_uri: str,
    tmp_path: Path,
) -> None:
    answers.by_day[D] = simulated(DAY, 3_000)
    assert run(production(), assets=ASSETS[:2]).success  # to know the day's last key
    expected = day_counts(database_dsn, DAY)["validated"]
    blocker = lock_out(database_dsn, last_key(database_dsn, DAY))
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
        pid = wait_for_statement(
            postgres_uri, database_name(database_dsn), "INSERT INTO public.solutions", 60
        )
        assert pid is not None, "the load never reached its INSERT"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
        blocker.rollback()
        blocker.close()
    wait_until_gone(postgres_uri, [pid])

    assert process.returncode == -signal.SIGKILL
    assert day_counts(database_dsn, DAY)["solutions"] in (0, expected)

    again = run(production(), assets=LOADING)
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


# -- 13-16: the Google Sheet ----------------------------------------------------------------

DAYS = (str(DAY - timedelta(days=2)), str(DAY - timedelta(days=1)), D)
SERIAL_EPOCH = date(1899, 12, 30)


def with_fast_sheets(resources: dict) -> dict:
    """The dashboard from the environment, with a small backoff."""
    dashboard = resources["dashboard"]
    assert isinstance(dashboard, GoogleSheetsDashboard)
    resources["dashboard"] = GoogleSheetsDashboard(
        credentials_file=dashboard.credentials_file,
        spreadsheet_id=dashboard.spreadsheet_id,
        worksheet_name=dashboard.worksheet_name,
        api_url=dashboard.api_url,
        backoff_seconds=0.01,
    )
    return resources


def test_sheets_rate_limits_and_outages_are_retried_with_backoff_and_the_run_succeeds(
    env: dict[str, str],
    database_dsn: str,
    sheets: FakeGoogleSheets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_sheets(sheets, tmp_path, monkeypatch, "Metrics")
    sheets.fail_next(429, times=1, retry_after="1")
    sheets.fail_next(503, times=2)

    outcome = run(with_fast_sheets(production()), assets=ASSETS[:5])

    assert outcome.success, outcome.errors()
    assert [tuple(row) for row in sheets.grid(SHEET, "Metrics")[1:]] == stored_metrics(database_dsn)
    retries = [line for line in outcome.log if line.startswith("Google Sheets")]
    assert retries == [
        f"Google Sheets (spreadsheet {SHEET}): HTTP 429; retrying (attempt 2 of 6, waiting 1.0s)",
        f"Google Sheets (spreadsheet {SHEET}): HTTP 503; retrying (attempt 3 of 6, waiting 0.0s)",
        f"Google Sheets (spreadsheet {SHEET}): HTTP 503; retrying (attempt 4 of 6, waiting 0.0s)",
    ]
    assert outcome.seconds < 15  # Retry-After and a 10 ms backoff: no fixed sleeps


def sheet_rows_by_day(grid: list[list[object]]) -> dict[str, list[object]]:
    """Day → its row, reading the date column by header name, whatever format it has."""
    column = grid[0].index("study_date")
    rows: dict[str, list[object]] = {}
    for row in grid[1:]:
        cell = row[column] if len(row) > column else ""
        if isinstance(cell, int):
            day = str(SERIAL_EPOCH + timedelta(days=cell))
        elif isinstance(cell, str) and cell[2:3] == ".":
            day = datetime.strptime(cell, "%d.%m.%Y").date().isoformat()
        else:
            day = str(cell)
        assert day not in rows, f"{day} appears twice"
        rows[day] = row
    return rows


def values_by_header(grid: list[list[object]], row: list[object]) -> dict[str, object]:
    return {name: row[grid[0].index(name)] for name in HEADER[1:]}


@pytest.fixture
def dashboard_of_three_days(
    env: dict[str, str],
    database_dsn: str,
    sheets: FakeGoogleSheets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, dict[str, object]]:
    """Three days loaded and on the sheet; returns each day's metrics by column name."""
    use_sheets(sheets, tmp_path, monkeypatch, "Metrics")
    assert run(production(), DAYS[0], DAYS[-1], assets=ASSETS[:5]).success
    metrics = {
        row[0]: dict(zip(HEADER[1:], row[1:], strict=True)) for row in stored_metrics(database_dsn)
    }
    assert list(metrics) == list(DAYS)
    return metrics


def test_a_sheet_people_rearranged_keeps_their_data_and_gets_deleted_days_back(
    dashboard_of_three_days: dict[str, dict[str, object]], sheets: FakeGoogleSheets
) -> None:
    metrics = dashboard_of_three_days
    header = [
        "new_users_per_day",
        "comment",
        "study_date",
        "attempts_per_day_total",
        "unique_users_per_day",
        "correct_attempts_per_day",
        "owner",
    ]

    def person_row(day: str, comment: str) -> list[object]:
        values = {**metrics[day], "study_date": day, "comment": comment, "owner": "ann"}
        return [values[name] for name in header]

    edited = person_row(DAYS[2], "holiday?")
    edited[header.index("attempts_per_day_total")] = 999_999  # a person overwrote a count
    people = [
        header,
        person_row(DAYS[0], "checked"),
        edited,  # the row of DAYS[1] was deleted
        ["", "sum of the above", "Total", "=SUM(D2:D3)", "", "", "ann"],
    ]
    sheets.set_grid(SHEET, "Metrics", people)

    outcome = run(production(), assets=[ASSETS[4]])

    assert outcome.success, outcome.errors()
    grid = sheets.grid(SHEET, "Metrics")
    assert grid[0] == header
    assert grid[1] == people[1]
    assert grid[2] == person_row(DAYS[2], "holiday?")
    assert grid[3] == people[3]
    assert len(grid) == 5
    assert values_by_header(grid, grid[4]) == metrics[DAYS[1]]
    assert grid[4][header.index("study_date")] == DAYS[1]
    assert sheets.formulas_evaluated == 0


def test_dates_people_retyped_in_another_format_still_match_their_day(
    dashboard_of_three_days: dict[str, dict[str, object]], sheets: FakeGoogleSheets
) -> None:
    metrics = dashboard_of_three_days
    grid = sheets.grid(SHEET, "Metrics")
    first, second = date.fromisoformat(DAYS[0]), date.fromisoformat(DAYS[1])
    grid[1][0] = first.strftime("%d.%m.%Y")
    grid[2][0] = (second - SERIAL_EPOCH).days  # a date serial number, as Sheets stores dates
    grid[1][1] = grid[2][1] = 0  # and counts someone zeroed
    sheets.set_grid(SHEET, "Metrics", grid)

    outcome = run(production(), assets=[ASSETS[4]])

    assert outcome.success, outcome.errors()
    after = sheets.grid(SHEET, "Metrics")
    assert len(after) == 4
    rows = sheet_rows_by_day(after)
    assert list(rows) == list(DAYS)
    assert {day: values_by_header(after, row) for day, row in rows.items()} == metrics
    assert after[1][0] == first.strftime("%d.%m.%Y")  # the person's format is left alone
    assert after[2][0] == (second - SERIAL_EPOCH).days


def test_formula_looking_text_is_written_as_text_and_never_evaluated(
    env: dict[str, str],
    database_dsn: str,
    sheets: FakeGoogleSheets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_sheets(sheets, tmp_path, monkeypatch, FORMULA)

    first = run(production(), DAYS[0], DAYS[-1], assets=ASSETS[:5])
    assert first.success, first.errors()
    grid = sheets.grid(SHEET, FORMULA)
    grid[0].append("link")
    grid[1].append('=HYPERLINK("http://x","click")')
    sheets.set_grid(SHEET, FORMULA, grid)
    second = run(production(), assets=[ASSETS[4]])

    assert second.success, second.errors()
    assert FORMULA in sheets.sheet_titles(SHEET)
    after = sheets.grid(SHEET, FORMULA)
    assert after == grid
    assert after[0][: len(HEADER)] == HEADER
    assert [row[0] for row in after[1:]] == list(DAYS)  # dates stored as text, not serials
    assert all(type(cell) is int for row in after[1:] for cell in row[1 : len(HEADER)])
    assert sheets.formulas_evaluated == 0


# -- 17: mail --------------------------------------------------------------------------------


def smtp_mailer(password_variable: str = "SMTP_PASSWORD") -> SmtpMailer:
    """The mailer from the environment, with a 10 ms backoff."""
    return SmtpMailer(
        host=os.environ["SMTP_HOST"],
        port=int(os.environ["SMTP_PORT"]),
        security=os.environ["SMTP_SECURITY"],  # type: ignore[arg-type]
        user=os.environ["SMTP_USER"],
        password=dg.EnvVar(password_variable),
        ca_file=os.environ.get("SMTP_CA_FILE"),
        sender=os.environ["DIGEST_SENDER"],
        recipients=os.environ["DIGEST_RECIPIENTS"],
        backoff_seconds=0.01,
        timeout_seconds=5,
    )


def use_smtp(
    monkeypatch: pytest.MonkeyPatch, port: int, security: str, ca_file: str | None
) -> None:
    values = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": security,
        "SMTP_USER": "bamboo",
        "SMTP_PASSWORD": "smtp-pw-51d0b3",
        "DIGEST_SENDER": "etl@example.org",
        "DIGEST_RECIPIENTS": "lead@example.org",
    }
    if ca_file:
        values["SMTP_CA_FILE"] = ca_file
    for name, value in values.items():
        monkeypatch.setenv(name, value)


DATA_ASSETS = {
    "raw_attempts",
    "validated_attempts",
    "solutions_table",
    "daily_metrics",
    "dashboard_sheet",
}


def test_an_smtp_server_that_is_down_fails_only_the_digest_after_logged_retries(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    use_smtp(monkeypatch, port, "none", None)
    resources = production()
    resources["mailer"] = smtp_mailer()

    outcome = run(resources)

    assert not outcome.success
    assert materialized(outcome.result) == DATA_ASSETS
    assert set(step_errors(outcome.result)) == {"digest_email"}
    where = f"SMTP 127.0.0.1:{port} (none)"
    assert f"MailError: {where}: ConnectionRefusedError on try 3 of 3" in failure_message(
        outcome.result, "digest_email"
    )
    assert [line for line in outcome.log if line.startswith(where)] == [
        f"{where}: ConnectionRefusedError on try 1 of 3",
        f"{where}: ConnectionRefusedError on try 2 of 3",
    ]
    assert "smtp-pw-51d0b3" not in outcome.errors() + "\n".join(outcome.log)


def test_a_refused_smtp_login_fails_only_the_digest_at_once_without_the_password(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with SmtpServer(security="starttls", user="bamboo", password="the-right-one") as smtp:
        use_smtp(monkeypatch, smtp.port, "starttls", smtp.ca_file)
        resources = production()
        resources["mailer"] = smtp_mailer()
        outcome = run(resources)
        assert smtp.messages == []

    assert not outcome.success
    assert materialized(outcome.result) == DATA_ASSETS
    message = failure_message(outcome.result, "digest_email")
    assert (
        f"SMTP 127.0.0.1:{smtp.port} (starttls) refused the login for user 'bamboo' (SMTP 535); "
        "check SMTP_USER and SMTP_PASSWORD"
    ) in message
    assert not [line for line in outcome.log if " on try " in line]
    assert "smtp-pw-51d0b3" not in outcome.errors() + "\n".join(outcome.log)


# -- 18: misconfiguration found at first use --------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "this is not JSON",
        json.dumps({"type": "authorized_user", "client_id": "x"}),
        json.dumps(
            {
                "type": "service_account",
                "client_email": "a@b.iam.gserviceaccount.com",
                "token_uri": "http://127.0.0.1:1/token",
                "private_key": "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS10ZXh0\n"
                "-----END PRIVATE KEY-----\n",
            }
        ),
    ],
    ids=["not-json", "not-a-service-account", "broken-private-key"],
)
def test_an_unusable_credentials_file_fails_the_dashboard_naming_the_variable(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    key_file = tmp_path / "service-account.json"
    key_file.write_text(content)
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT_FILE", str(key_file))
    monkeypatch.setenv("DASHBOARD_SPREADSHEET_ID", SHEET)

    outcome = run(production(), assets=ASSETS[:5])

    assert not outcome.success
    assert materialized(outcome.result) == DATA_ASSETS - {"dashboard_sheet"}
    message = failure_message(outcome.result, "dashboard_sheet")
    assert f"GOOGLE_SERVICE_ACCOUNT_FILE ({key_file}) is not a readable service-account key" in (
        message
    )
    assert "c2VjcmV0LWtleS10ZXh0" not in outcome.errors() + "\n".join(outcome.log)


@pytest.mark.parametrize("fault", ["wrong-password", "unknown-host"])
def test_a_wrong_dsn_fails_naming_the_warehouse_without_the_password(
    env: dict[str, str],
    database_dsn: str,
    postgres_uri: str,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    if fault == "wrong-password":
        right = role_with_password(postgres_uri, database_dsn, "bamboo_etl", "right-pw-0b7c")
        dsn = psycopg.conninfo.make_conninfo(right, password="wrong-pw-e41a")
        where = f"database {database_name(database_dsn)} on "
    else:
        dsn = "host=warehouse.invalid dbname=bamboo user=etl password=wrong-pw-e41a"
        where = "database bamboo on warehouse.invalid"
    monkeypatch.setenv("BAMBOO_DB_DSN", dsn)

    outcome = run(production(), assets=LOADING)

    assert not outcome.success
    message = failure_message(outcome.result, "validated_attempts")
    assert f"WarehouseUnavailable: cannot connect to the warehouse ({where}" in message
    if fault == "wrong-password":
        assert 'password authentication failed for user "bamboo_etl"' in message
    everything = outcome.errors() + "\n".join(outcome.log)
    assert "wrong-pw-e41a" not in everything and "right-pw-0b7c" not in everything
