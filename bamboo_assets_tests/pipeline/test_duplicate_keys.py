"""Two records with the same (user_id, created_at): the first in the answer is the one stored.

The notebook kept the first occurrence (its `drop_duplicates` and the table's UNIQUE index);
Bamboo must too, whichever reading path (fast regex or `json` + `judge`) met each record and
in whatever order the day's rows are sorted before the insert.
"""

from __future__ import annotations

import random

from bamboo_assets_tests.support.bamboo import LINEAGE, Bamboo, query
from bamboo_assets_tests.support.faults import Answers, answer_of

DAY = "2025-03-05"
PAIRS = 300


def record(user: str, created_at: str, is_correct: int, sourcedid: str) -> dict[str, object]:
    return {
        "lti_user_id": user,
        "passback_params": repr({"oauth_consumer_key": "", "lis_result_sourcedid": sourcedid}),
        "is_correct": is_correct,
        "attempt_type": "submit",
        "created_at": created_at,
    }


def answer_with_duplicates() -> tuple[list[dict[str, object]], dict[str, tuple[int, str]]]:
    """PAIRS users with two records each at the same moment: every first copy, then every
    second copy, each half in its own shuffled order (so the rows are not already sorted by
    user: a sort that ignores the position is free to swap copies). Half of the second copies
    are spelled with a UTC offset, so `json` + `judge` reads them, not the regex; which copy
    holds the smaller values alternates, so only the position picks the first every time.
    Returns the records and, per user, what its first copy says."""
    rng = random.Random(12)
    firsts, seconds, expected = [], [], {}
    for n in range(PAIRS):
        user, minute = f"user-{n:03d}", f"{n // 60:02d}:{n % 60:02d}"
        first_tag, second_tag = ("a", "b") if n % 2 else ("b", "a")
        later = f"{DAY}T10:{minute}.000001+00:00" if n % 4 < 2 else f"{DAY} 10:{minute}.000001"
        firsts.append(record(user, f"{DAY} 10:{minute}.000001", n % 2, f"{first_tag}-{n}"))
        seconds.append(record(user, later, 1 - n % 2, f"{second_tag}-{n}"))
        expected[user] = (n % 2, f"{first_tag}-{n}")
    rng.shuffle(firsts)
    rng.shuffle(seconds)
    return firsts + seconds, expected


def test_the_first_of_two_records_with_the_same_key_is_the_one_stored(
    bamboo: Bamboo, answers: Answers, database_dsn: str
) -> None:
    records, expected = answer_with_duplicates()
    answers.by_day[DAY] = answer_of(records)

    assert bamboo.run(DAY, select=LINEAGE[:3]).success

    stored = query(
        database_dsn,
        "SELECT user_id, is_correct, lis_result_sourcedid FROM public.solutions ORDER BY 1",
    )
    assert len(stored) == PAIRS
    assert {user: (correct, sourcedid) for user, correct, sourcedid in stored} == expected
