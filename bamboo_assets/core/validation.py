"""One day's answer → COPY text for valid attempts and for rejected records, plus counts.

Pure streaming: no database here, so it is tested on strings. Valid rows and rejections are
written in PostgreSQL's COPY text format as they are judged, so memory stays flat however
large the day is.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import BinaryIO, TextIO

from bamboo_assets.core.answer import iter_records
from bamboo_assets.core.rules import Rejection, common_attempt, judge

# COPY text: rows are written in the column order of `bamboo.validated_attempts` (sql.RELATIONS).
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_FLUSH_EVERY = 4096  # rows per write: large writes keep the COPY stream cheap
_NULL = "\\N"


def copy_text(value: str | None) -> str:
    """A value in COPY text format (`\\N` is NULL)."""
    if value is None:
        return _NULL
    return value.translate(_ESCAPES) if _NEEDS_ESCAPE.search(value) else value


def first_days_copy(day: date, first_seen: dict[str, datetime]) -> str:
    """COPY text for `bamboo.validated_first_days`: each user's first study day."""
    day_text = day.isoformat()
    return "".join(
        f"{day_text}\t{copy_text(user)}\t{moment.date()}\n" for user, moment in first_seen.items()
    )


# The keys the notebook reads from each record; the API-shape check counts any other, or any
# of these missing.
NOTEBOOK_KEYS = frozenset(
    ("lti_user_id", "passback_params", "is_correct", "attempt_type", "created_at")
)


@dataclass
class DayVerdict:
    """What judging one day's answer found."""

    extracted: int = 0
    valid: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    unreadable_passback: int = 0
    first_seen: dict[str, datetime] = field(default_factory=dict)  # user → earliest valid row
    fast_path: int = 0  # records read by rules.common_attempt, the others by json and judge
    unexpected_keys: Counter[str] = field(default_factory=Counter)  # key → records carrying it
    missing_keys: Counter[str] = field(default_factory=Counter)  # key → records lacking it

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


def judge_answer(
    answer: BinaryIO,
    day: date,
    timezone: tzinfo,
    write_valid: Callable[[str], object],
    rejected_out: TextIO,
) -> DayVerdict:
    """Judge every record of `answer`.

    Valid rows go to `write_valid` as COPY text for `bamboo.validated_attempts`; rejected
    records go to `rejected_out` as COPY text for `bamboo.rejected_attempts`, each with its
    position in the answer, the reason and the record exactly as received.
    """
    verdict = DayVerdict()
    day_text = day.isoformat()
    lines: list[str] = []
    add_line = lines.append
    position = -1
    first_seen = verdict.first_seen
    earliest_of = first_seen.get
    unreadable_passback = fast_path = 0
    records = iter_records(answer, shortcut=common_attempt)
    for position, (record, text, plain) in enumerate(records):
        # Records of the usual shape arrive already judged (`plain`: read by
        # rules.common_attempt), and their text holds no backslash or control character:
        # nothing to escape for COPY.
        if plain:
            outcome = record
            fast_path += 1
        else:
            if type(record) is dict:  # the fast path reads exactly the five keys
                verdict.unexpected_keys.update(record.keys() - NOTEBOOK_KEYS)
                verdict.missing_keys.update(NOTEBOOK_KEYS - record.keys())
            outcome, unreadable = judge(record, timezone)
            if isinstance(outcome, Rejection):
                verdict.rejected[outcome.reason] += 1
                rejected_out.write(f"{day_text}\t{position}\t{outcome.reason}\t{copy_text(text)}\n")
                continue
            unreadable_passback += unreadable  # loaded with three NULL LTI fields
        user_id, key, sourcedid, service_url, is_correct, attempt_type, created_at = outcome
        earliest = earliest_of(user_id)
        if earliest is None or created_at < earliest:
            first_seen[user_id] = created_at
        # One search over all the text is cheaper than one per field, and rarely finds anything.
        if not plain and _NEEDS_ESCAPE.search(f"{user_id}{key}{sourcedid}{service_url}"):
            key, sourcedid, service_url = (
                copy_text(key),
                copy_text(sourcedid),
                copy_text(service_url),
            )
            user_id = copy_text(user_id)
        add_line(
            f"{day_text}\t{position}\t{user_id}\t{_NULL if key is None else key}\t"
            f"{_NULL if sourcedid is None else sourcedid}\t"
            f"{_NULL if service_url is None else service_url}\t"
            f"{_NULL if is_correct is None else is_correct}\t{attempt_type}\t{created_at}\n"
        )
        if len(lines) == _FLUSH_EVERY:
            write_valid("".join(lines))
            lines.clear()
    verdict.extracted = position + 1
    verdict.unreadable_passback = unreadable_passback
    verdict.fast_path = fast_path
    if lines:
        write_valid("".join(lines))
    verdict.valid = verdict.extracted - verdict.rejected_total
    return verdict
