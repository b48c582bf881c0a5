"""What counts as a valid attempt: the reference notebook's `hook`, as pure functions.

A record either becomes an `Attempt` (a row for `public.solutions`) or a `Rejection` with a
fixed reason, so reasons can be counted and the record kept. Where the notebook accepted a
record that PostgreSQL then refused (breaking the whole load), the rule is fixed here and
written down in docs/decisions.md:

- `is_correct` given as JSON true/false is normalized to 1/0 (the notebook accepted it as an int);
- a NUL character in any stored string rejects the record (PostgreSQL text cannot hold it),
  and so does a lone surrogate (a `\\udXXX` escape that is not valid Unicode: no UTF-8 form);
- an `lti_user_id` longer than `MAX_USER_ID_LENGTH` characters is rejected: it could not fit
  the `unique_check` index entry, and PostgreSQL would refuse the whole day;
- a `created_at` without a time of day is rejected (the notebook stored midnight);
- a `created_at` with a UTC offset is converted to the configured timezone and stored naive,
  so the database session's TimeZone never changes what is stored; one that falls outside
  years 1-9999 once converted is rejected.

Speed matters (a day can hold a million records), so the common `passback_params` shapes are
read with one regular expression; anything else goes through `ast.literal_eval`, exactly as
in the notebook. Both paths give the same result on every input (property-tested).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, NamedTuple

LTI_FIELDS = ("oauth_consumer_key", "lis_result_sourcedid", "lis_outcome_service_url")

# A B-tree entry holds at most 2704 bytes; 512 characters are at most 2048 bytes in UTF-8,
# which leaves room for created_at in `unique_check (user_id, created_at)`.
MAX_USER_ID_LENGTH = 512
_SURROGATE = re.compile("[\ud800-\udfff]")


class Attempt(NamedTuple):
    """One valid row, in `public.solutions` column order."""

    user_id: str
    oauth_consumer_key: str | None
    lis_result_sourcedid: str | None
    lis_outcome_service_url: str | None
    is_correct: int | None
    attempt_type: str
    created_at: datetime


@dataclass(frozen=True)
class Rejection:
    """Why a record is not loaded; `reason` is one of `REASONS`."""

    reason: str


# Every reason a record can be rejected for, in the words shown to users.
REASONS = (
    "record is not a JSON object",
    "lti_user_id missing",
    "lti_user_id is not a string",
    "lti_user_id is longer than 512 characters",
    "passback_params missing",
    "passback_params field is not a string or null",
    "is_correct missing",
    "is_correct is not 0, 1 or null",
    "attempt_type missing",
    "attempt_type is not run or submit",
    "created_at missing",
    "created_at is not an ISO date-time",
    "created_at has no time of day",
    "created_at is out of range once converted to the timezone",
    "text contains a NUL character",
    "text contains a lone surrogate (not valid Unicode)",
)
_REJECTIONS = {reason: Rejection(reason) for reason in REASONS}

# The fast path: the shapes the API actually sends, read by one regular expression each.
# Group names are the `Attempt` fields they fill. Anything else (another order, escapes,
# offsets, extra fields) is left to `ast`, `json` and `judge`; both paths give the same result
# on every input (property-tested in test_rules.py).
_WS = r"[ \t\n\r]*"  # JSON's optional whitespace


def _quoted(group: str, excluded: str) -> str:
    """A single-quoted Python string without escapes: no quote, backslash or `excluded`."""
    return rf"'(?P<{group}>[^'\\{excluded}]*)'"


def _passback(excluded: str) -> str:
    """The repr of the usual `passback_params` dict: the LTI fields in order, the last one
    optional (records from 2025 have no `lis_outcome_service_url`)."""
    key, sourcedid, service_url = (_quoted(name, excluded) for name in LTI_FIELDS)
    return (
        rf"\{{'oauth_consumer_key': {key}, 'lis_result_sourcedid': {sourcedid}"
        rf"(?:, 'lis_outcome_service_url': {service_url})?\}}"
    )


def _member(name: str, value: str) -> str:
    """`"name": value` in a JSON object."""
    return rf'"{name}"{_WS}:{_WS}{value}'


# passback_params as a Python value: characters `ast.literal_eval` would read differently
# (line breaks end the literal, NUL is refused) are left to it.
_COMMON_PASSBACK = re.compile(_passback(r"\n\r\x00"))

# A whole record as the API's JSON text: the five fields in order, JSON strings with nothing
# to unescape (no double quote, backslash or control character), a naive timestamp.
_COMMON_RECORD = re.compile(
    r"\{"
    + _WS
    + f"{_WS},{_WS}".join(
        (
            _member("lti_user_id", rf'"(?P<user_id>[^"\\\x00-\x1f]{{0,{MAX_USER_ID_LENGTH}}})"'),
            _member("passback_params", '"' + _passback(r'"\x00-\x1f') + '"'),
            _member("is_correct", "(?P<is_correct>null|0|1|true|false)"),
            _member("attempt_type", '"(?P<attempt_type>run|submit)"'),
            _member(
                "created_at",
                r'"(?P<created_at>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d{1,6})?)"',
            ),
        )
    )
    + _WS
    + r"\}"
)
if tuple(_COMMON_RECORD.groupindex) != Attempt._fields:
    raise AssertionError("rules._COMMON_RECORD's groups must be Attempt's fields, in order")
_IS_CORRECT = {"null": None, "0": 0, "1": 1, "true": 1, "false": 0}


def common_attempt(text: str, start: int) -> tuple[Attempt, int] | None:
    """The attempt in `text` at `start` and where its JSON object ends, if the record has
    the API's usual shape; None means: decode it and `judge` it."""
    match = _COMMON_RECORD.match(text, start)
    if match is None:
        return None
    # The groups are Attempt's fields in order (checked at import), so one groups() call reads
    # them all: a million records a day make the cheaper call worth it.
    user_id, key, sourcedid, service_url, is_correct, attempt_type, created_at = match.groups()
    try:
        moment = datetime.fromisoformat(created_at)
    except ValueError:  # e.g. month 13: `judge` gives the reason
        return None
    attempt = Attempt(
        user_id, key, sourcedid, service_url, _IS_CORRECT[is_correct], attempt_type, moment
    )
    return attempt, match.end()


def lti_fields(value: Any) -> tuple[Any, Any, Any] | None:
    """The notebook's `string_to_dict`, reduced to the three LTI fields it reads.

    None where the notebook fell back to `{}` (not a Python literal, or not a dict).
    """
    if type(value) is str:
        match = _COMMON_PASSBACK.fullmatch(value)
        if match:
            return match.group(*LTI_FIELDS)
    try:
        parsed = ast.literal_eval(value)
    except Exception:  # literal_eval raises many kinds; the notebook treats all alike
        return None
    if not isinstance(parsed, dict):
        return None
    return parsed.get(LTI_FIELDS[0]), parsed.get(LTI_FIELDS[1]), parsed.get(LTI_FIELDS[2])


def parse_created_at(value: Any, timezone: tzinfo) -> datetime | Rejection:
    """ISO date-time → naive datetime in `timezone`."""
    if value is None or not isinstance(value, str):
        return _REJECTIONS["created_at is not an ISO date-time"]
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return _REJECTIONS["created_at is not an ISO date-time"]
    # Date-only ISO forms are at most 10 characters; any form with a time is longer.
    if len(value) <= 10:
        return _REJECTIONS["created_at has no time of day"]
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(timezone).replace(tzinfo=None)
        except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is past year 9999 in UTC
            return _REJECTIONS["created_at is out of range once converted to the timezone"]
    return moment


def judge(record: Any, timezone: tzinfo) -> tuple[Attempt | Rejection, bool]:
    """Judge one API record.

    Returns the attempt or rejection, and whether `passback_params` could not be read (the
    notebook then loads the record with three NULL LTI fields; Bamboo does too, and counts it).
    """
    if type(record) is not dict:
        return _REJECTIONS["record is not a JSON object"], False
    try:
        user_id = record["lti_user_id"]
    except KeyError:
        return _REJECTIONS["lti_user_id missing"], False
    if type(user_id) is not str:
        return _REJECTIONS["lti_user_id is not a string"], False
    if len(user_id) > MAX_USER_ID_LENGTH:
        return _REJECTIONS["lti_user_id is longer than 512 characters"], False
    if "passback_params" not in record:
        return _REJECTIONS["passback_params missing"], False
    lti = lti_fields(record["passback_params"])
    unreadable = lti is None
    if lti is None:
        lti = (None, None, None)
    for field in lti:
        if field is not None and not isinstance(field, str):
            return _REJECTIONS["passback_params field is not a string or null"], unreadable
    if "is_correct" not in record:
        return _REJECTIONS["is_correct missing"], unreadable
    is_correct = record["is_correct"]
    if is_correct is not None:
        if isinstance(is_correct, bool):
            is_correct = int(is_correct)
        elif type(is_correct) is not int or is_correct not in (0, 1):
            return _REJECTIONS["is_correct is not 0, 1 or null"], unreadable
    if "attempt_type" not in record:
        return _REJECTIONS["attempt_type missing"], unreadable
    attempt_type = record["attempt_type"]
    if attempt_type != "run" and attempt_type != "submit":
        return _REJECTIONS["attempt_type is not run or submit"], unreadable
    if "created_at" not in record:
        return _REJECTIONS["created_at missing"], unreadable
    created_at = parse_created_at(record["created_at"], timezone)
    if isinstance(created_at, Rejection):
        return created_at, unreadable
    for text in (user_id, *lti):
        if text is None:
            continue
        if "\x00" in text:
            return _REJECTIONS["text contains a NUL character"], unreadable
        if not text.isascii() and _SURROGATE.search(text):
            return _REJECTIONS["text contains a lone surrogate (not valid Unicode)"], unreadable
    return Attempt(user_id, *lti, is_correct, attempt_type, created_at), unreadable
