"""The rules at their edges: limits, conversions out of range, and what is counted as an
unreadable `passback_params` (the digest's "Rows loaded with unreadable passback_params")."""

import io
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bamboo_assets.core.rules import MAX_USER_ID_LENGTH, Attempt, Rejection, common_attempt, judge
from bamboo_assets.core.validation import judge_answer

UTC = ZoneInfo("UTC")


def record(**changes: object) -> dict[str, object]:
    return {
        "lti_user_id": "u1",
        "passback_params": "{'oauth_consumer_key': '', 'lis_result_sourcedid': 's'}",
        "is_correct": 1,
        "attempt_type": "submit",
        "created_at": "2025-03-05 10:00:00",
    } | changes


@pytest.mark.parametrize(
    ("length", "valid"), [(MAX_USER_ID_LENGTH - 1, True), (MAX_USER_ID_LENGTH, True), (513, False)]
)
def test_user_ids_up_to_512_characters_are_kept_on_both_paths(length: int, valid: bool) -> None:
    item = record(lti_user_id="a" * length)
    outcome, unreadable = judge(item, UTC)
    fast = common_attempt(json.dumps(item), 0)
    if valid:
        assert isinstance(outcome, Attempt) and outcome.user_id == "a" * length
        assert fast is not None and fast[0] == outcome
    else:
        assert outcome == Rejection("lti_user_id is longer than 512 characters")
        assert fast is None
    assert unreadable is False


@pytest.mark.parametrize(
    ("created_at", "timezone"),
    [("9999-12-31T23:00:00-05:00", UTC), ("0001-01-01T01:00:00+14:00", UTC),
     ("9999-12-31T23:30:00+00:00", ZoneInfo("Asia/Tokyo"))],
)  # fmt: skip
def test_a_moment_outside_years_1_to_9999_once_converted_is_rejected(
    created_at: str, timezone: ZoneInfo
) -> None:
    outcome, unreadable = judge(record(created_at=created_at), timezone)
    assert outcome == Rejection("created_at is out of range once converted to the timezone")
    assert unreadable is False


@pytest.mark.parametrize(
    ("created_at", "stored"),
    [
        ("20250305T10", datetime(2025, 3, 5, 10)),  # compact ISO with an hour: 11 characters
        ("2025-03-05T10", datetime(2025, 3, 5, 10)),
        ("2025-03-05 10:00:00.5", datetime(2025, 3, 5, 10, 0, 0, 500000)),
    ],
)
def test_any_iso_form_with_a_time_of_day_is_accepted(created_at: str, stored: datetime) -> None:
    outcome, _ = judge(record(created_at=created_at), UTC)
    assert isinstance(outcome, Attempt) and outcome.created_at == stored


@pytest.mark.parametrize(
    "changes",
    [
        {"lti_user_id": "bad\ud800"},
        {"passback_params": repr({"oauth_consumer_key": "", "lis_result_sourcedid": "\udfff"})},
        {"passback_params": repr({"lis_outcome_service_url": "x\udc80y"})},
    ],
)
def test_a_lone_surrogate_anywhere_stored_rejects_the_record(changes: dict) -> None:
    outcome, _ = judge(record(**changes), UTC)
    assert outcome == Rejection("text contains a lone surrogate (not valid Unicode)")


def test_non_ascii_text_without_surrogates_is_kept() -> None:
    outcome, _ = judge(record(lti_user_id="\u0416\u4e2d\U0001f600"), UTC)
    assert isinstance(outcome, Attempt) and outcome.user_id == "\u0416\u4e2d\U0001f600"


@pytest.mark.parametrize(
    ("item", "unreadable"),
    [
        ("not an object", False),
        ({"passback_params": "x"}, False),  # lti_user_id missing
        (record(lti_user_id=None, passback_params="x"), False),
        (record(lti_user_id="a" * 513, passback_params="x"), False),
        ({"lti_user_id": "u1", "is_correct": 1}, False),  # passback_params missing: a reason
        (record(passback_params="x", is_correct=2), True),
        (record(passback_params="x"), True),
        (record(), False),
    ],
)
def test_passback_params_are_read_only_for_records_with_a_usable_user_id(
    item: object, unreadable: bool
) -> None:
    assert judge(item, UTC)[1] is unreadable


def test_only_loaded_records_count_as_loaded_with_unreadable_passback_params() -> None:
    records = [
        record(lti_user_id="kept", passback_params="not a dict"),
        record(lti_user_id="rejected", passback_params="not a dict", is_correct=2),
        record(lti_user_id="fine"),
    ]
    body = json.dumps(records).encode()
    verdict = judge_answer(io.BytesIO(body), date(2025, 3, 5), UTC, lambda _: None, io.StringIO())
    assert (verdict.valid, verdict.rejected_total, verdict.unreadable_passback) == (2, 1, 1)


def test_the_fast_path_reads_a_record_where_it_starts_in_a_longer_text() -> None:
    item = json.dumps(record())
    text = f"[{item}, {item}]"
    first = common_attempt(text, 1)
    second = common_attempt(text, len(item) + 3)
    assert first is not None and second is not None
    assert first[1] == len(item) + 1 and second[1] == len(text) - 1
    assert first[0] == second[0] == judge(record(), UTC)[0]
    assert common_attempt(text, 0) is None  # at "[": not a record
