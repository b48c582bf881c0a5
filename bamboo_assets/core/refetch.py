"""Fetching a day again: when a stored answer is final, and what a new answer changed (pure).

The API keeps adding records to a day for a while after it ends (late records); an answer
fetched `refetch_days` after the day ended is taken as final, so reruns and backfills reuse
it instead of waiting 20-50 s per day for the same bytes.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, tzinfo
from typing import BinaryIO

from bamboo_assets.core.answer import iter_records
from bamboo_assets.core.rules import common_attempt


def is_final(day: date, fetched_at: datetime, refetch_days: int, timezone: tzinfo) -> bool:
    """Whether an answer fetched at `fetched_at` came more than `refetch_days` days after
    `day` ended (midnight after it, in `timezone`)."""
    ended = datetime.combine(day + timedelta(days=1), time(), timezone)
    return fetched_at > ended + timedelta(days=refetch_days)


def _texts(answer: BinaryIO) -> Counter[int]:
    return Counter(hash(text) for _, text, _ in iter_records(answer, shortcut=common_attempt))


def late_records(previous: BinaryIO, current: BinaryIO) -> tuple[int, int]:
    """(records in `current` that `previous` lacked, records of `previous` now missing),
    comparing each record's exact text; a record sent twice counts twice.

    Raises answer.MalformedAnswer if either is not a complete JSON list.
    """
    before, after = _texts(previous), _texts(current)
    return (after - before).total(), (before - after).total()
