"""The validation rules: every branch of the notebook's `hook`, and what Bamboo fixes."""

import ast
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bamboo_assets.core.rules import (
    LTI_FIELDS,
    REASONS,
    Attempt,
    Rejection,
    common_attempt,
    judge,
    lti_fields,
)
from bamboo_assets.core.simulator import simulated_records

UTC = ZoneInfo("UTC")
PASSBACK = (
    "{'oauth_consumer_key': '', 'lis_result_sourcedid': 'course-v1:X+Y', "
    "'lis_outcome_service_url': 'https://lms.example.org/grade'}"
)


def record(**changes: object) -> dict:
    base = {
        "lti_user_id": "0123456789abcdef0123456789abcdef",
        "passback_params": PASSBACK,
        "is_correct": 1,
        "attempt_type": "submit",
        "created_at": "2025-03-01 10:20:30.123456",
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not ...}


def test_a_typical_record_becomes_an_attempt() -> None:
    outcome, unreadable = judge(record(), UTC)
    assert outcome == Attempt(
        "0123456789abcdef0123456789abcdef",
        "",
        "course-v1:X+Y",
        "https://lms.example.org/grade",
        1,
        "submit",
        datetime(2025, 3, 1, 10, 20, 30, 123456),
    )
    assert unreadable is False


def test_a_run_without_service_url_keeps_nulls() -> None:
    passback = "{'oauth_consumer_key': '', 'lis_result_sourcedid': 'b'}"
    outcome, _ = judge(record(passback_params=passback, is_correct=None, attempt_type="run"), UTC)
    assert isinstance(outcome, Attempt)
    assert (outcome.lis_outcome_service_url, outcome.is_correct) == (None, None)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"lti_user_id": ...}, "lti_user_id missing"),
        ({"lti_user_id": None}, "lti_user_id is not a string"),
        ({"lti_user_id": 42}, "lti_user_id is not a string"),
        ({"passback_params": ...}, "passback_params missing"),
        (
            {"passback_params": "{'oauth_consumer_key': 5}"},
            "passback_params field is not a string or null",
        ),
        (
            {"passback_params": "{'lis_result_sourcedid': ['a']}"},
            "passback_params field is not a string or null",
        ),
        ({"is_correct": ...}, "is_correct missing"),
        ({"is_correct": 2}, "is_correct is not 0, 1 or null"),
        ({"is_correct": "1"}, "is_correct is not 0, 1 or null"),
        ({"is_correct": 1.0}, "is_correct is not 0, 1 or null"),
        ({"attempt_type": ...}, "attempt_type missing"),
        ({"attempt_type": "walk"}, "attempt_type is not run or submit"),
        ({"attempt_type": None}, "attempt_type is not run or submit"),
        ({"created_at": ...}, "created_at missing"),
        ({"created_at": "yesterday"}, "created_at is not an ISO date-time"),
        ({"created_at": 1740000000}, "created_at is not an ISO date-time"),
        ({"created_at": None}, "created_at is not an ISO date-time"),
        ({"created_at": "2025-03-01"}, "created_at has no time of day"),
        ({"lti_user_id": "ab\x00cd"}, "text contains a NUL character"),
        ({"passback_params": "{'oauth_consumer_key': 'a\\x00'}"}, "text contains a NUL character"),
    ],
)
def test_each_invalid_kind_is_rejected_with_its_reason(changes: dict, reason: str) -> None:
    assert reason in REASONS
    outcome, _ = judge(record(**changes), UTC)
    assert outcome == Rejection(reason)


@pytest.mark.parametrize("item", [[1, 2], "text", 5, None])
def test_a_list_element_that_is_not_an_object_is_rejected(item: object) -> None:
    assert judge(item, UTC)[0] == Rejection("record is not a JSON object")


@pytest.mark.parametrize("value", [True, False])
def test_json_booleans_in_is_correct_are_normalized_to_integers(value: bool) -> None:
    outcome, _ = judge(record(is_correct=value), UTC)
    assert isinstance(outcome, Attempt)
    assert outcome.is_correct == int(value)
    assert type(outcome.is_correct) is int


@pytest.mark.parametrize("passback", ["not a dict", "{'a': ", "['list']", None, 7, {"k": "v"}])
def test_unreadable_passback_params_load_with_null_lti_fields_and_are_counted(passback) -> None:
    outcome, unreadable = judge(record(passback_params=passback), UTC)
    assert isinstance(outcome, Attempt)
    assert (outcome.oauth_consumer_key, outcome.lis_result_sourcedid) == (None, None)
    assert unreadable is True


@pytest.mark.parametrize(
    ("created_at", "stored"),
    [
        ("2025-03-01T23:30:00+00:00", datetime(2025, 3, 2, 2, 30)),
        ("2025-03-01T23:30:00Z", datetime(2025, 3, 2, 2, 30)),
        ("2025-03-02T05:30:00+06:00", datetime(2025, 3, 2, 2, 30)),
        ("2025-03-01 10:00:00", datetime(2025, 3, 1, 10, 0)),
    ],
)
def test_offsets_are_converted_to_the_configured_timezone(
    created_at: str, stored: datetime
) -> None:
    outcome, _ = judge(record(created_at=created_at), ZoneInfo("Europe/Moscow"))
    assert isinstance(outcome, Attempt)
    assert outcome.created_at == stored
    assert outcome.created_at.tzinfo is None


def _notebook_lti_fields(value: object) -> tuple | None:
    """The notebook's string_to_dict, then its three .get() calls."""
    try:
        parsed = ast.literal_eval(value)
    except Exception:
        return None
    return tuple(parsed.get(key) for key in LTI_FIELDS) if isinstance(parsed, dict) else None


_field_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from("'\\\n\r\x00\"{}:,"),
    max_size=30,
)


@settings(deadline=None)  # a noisy machine must not fail a property
@given(
    key=_field_text,
    sourcedid=_field_text,
    url=_field_text | st.none(),
    spacing=st.sampled_from(["", " ", "  "]),
)
def test_fast_passback_parser_equals_literal_eval(
    key: str, sourcedid: str, url: str | None, spacing: str
) -> None:
    text = f"{{'oauth_consumer_key': '{key}', 'lis_result_sourcedid': '{sourcedid}'"
    if url is not None:
        text += f", 'lis_outcome_service_url': '{url}'"
    text = spacing + text + "}"
    assert lti_fields(text) == _notebook_lti_fields(text)


@settings(deadline=None)
@given(st.text(max_size=60))
def test_any_passback_string_parses_like_literal_eval(text: str) -> None:
    assert lti_fields(text) == _notebook_lti_fields(text)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "lti_user_id": _json_values,
            "passback_params": _json_values,
            "is_correct": _json_values,
            "attempt_type": st.sampled_from(["run", "submit"]) | _json_values,
            "created_at": st.sampled_from(["2025-03-01 10:00:00", "2025-03-01T10:00:00+03:00"])
            | _json_values,
        },
    )
    | _json_values
)
def test_random_records_are_always_classified(item: object) -> None:
    outcome, _ = judge(item, UTC)
    if isinstance(outcome, Rejection):
        assert outcome.reason in REASONS
    else:
        assert isinstance(outcome.user_id, str) and "\x00" not in outcome.user_id
        assert outcome.is_correct in (0, 1, None)
        assert outcome.attempt_type in ("run", "submit")
        assert outcome.created_at.tzinfo is None


_hostile = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from("'\"\\\n\t\x00 {},:"),
    max_size=12,
)
# Mostly plausible values, so that both the fast path and the fallback are exercised.
_plausible = st.text(alphabet="abcdef0123456789+:/.-@ ", max_size=16)
_text = st.one_of(_plausible, _plausible, _plausible, _plausible, _hostile)


_timestamps = st.sampled_from(
    [
        "2025-03-01 10:00:00.123456",
        "2024-12-31T00:00:00.000001",
        "2025-03-01T10:00:00",
        "2025-03-01 10:00:00.5",
        "2025-13-01 10:00:00",
        "2025-02-30 10:00:00",
        "2025-03-01 10:00:00+03:00",
        "2025-03-01",
    ]
)


@settings(max_examples=10 * settings.default.max_examples, deadline=None)
@given(
    user=st.one_of(
        _text, _text, _text, st.none(), st.text(alphabet="a", min_size=505, max_size=520)
    ),
    key=_text,
    sourcedid=_text,
    url=st.none() | _text,
    is_correct=st.sampled_from([None, 0, 1, True, False, None, 0, 1, None, 0, 1, 2, "1", 1.0]),
    attempt_type=st.sampled_from(["run", "submit"] * 4 + ["Run", 1]),
    created_at=st.one_of(*[_timestamps] * 4, _hostile),
    layout=st.sampled_from([((", ", ": "), False), ((",", ":"), True), ((" ,\n", " : "), False)]),
)
def test_the_fast_path_reads_a_record_exactly_as_json_and_judge_do(
    user, key, sourcedid, url, is_correct, attempt_type, created_at, layout
) -> None:
    passback = f"{{'oauth_consumer_key': '{key}', 'lis_result_sourcedid': '{sourcedid}'"
    passback += "}" if url is None else f", 'lis_outcome_service_url': '{url}'}}"
    record = {
        "lti_user_id": user,
        "passback_params": passback,
        "is_correct": is_correct,
        "attempt_type": attempt_type,
        "created_at": created_at,
    }
    separators, ensure_ascii = layout
    text = json.dumps(record, separators=separators, ensure_ascii=ensure_ascii)
    fast = common_attempt(text, 0)
    if fast is not None:
        attempt, end = fast
        assert end == len(text)
        assert judge(json.loads(text), UTC) == (attempt, False)


def test_the_fast_path_takes_the_records_the_api_usually_sends() -> None:
    records = [*simulated_records(date(2025, 3, 1), 500), *simulated_records(date(2024, 6, 1), 500)]
    usual = [text for text in records if '"lti_user_id": null' not in text]
    assert len(usual) > 990
    fast = [common_attempt(text, 0) for text in usual]
    assert all(fast)
    assert [attempt for attempt, _ in fast] == [judge(json.loads(t), UTC)[0] for t in usual]
