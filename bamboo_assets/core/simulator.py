"""A deterministic stand-in for the ITResume statistics API's answers.

Seeded per day, so the same day always gives the same bytes. The shape follows what the
real API sends: `passback_params` as a Python-repr string with
`oauth_consumer_key` empty and, from 2025 on, no `lis_outcome_service_url`; `is_correct` null
for runs; timestamps `YYYY-MM-DD HH:MM:SS.ffffff`; now and then a record with a null
`lti_user_id`, which the rules reject. Learners come from a pool that grows day by day, so
"new users per day" means something.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta

EPOCH = date(2020, 1, 1)
_USERS_AT_EPOCH = 400
_NEW_USERS_PER_DAY = 6
_COURSES = ("SQL-101", "PY-201", "DA-301", "DE-401")


def _user_id(seed: int, number: int) -> str:
    return hashlib.md5(f"{seed}:{number}".encode()).hexdigest()


def simulated_records(day: date, records: int, seed: int = 0) -> Iterator[str]:
    """The JSON text of each record of `day`, in time order."""
    rng = random.Random(f"{seed}:{day.isoformat()}")
    pool = _USERS_AT_EPOCH + _NEW_USERS_PER_DAY * max((day - EPOCH).days, 0)
    with_service_url = day.year < 2025
    start = datetime.combine(day, datetime.min.time())
    offsets = sorted(rng.randrange(86_400_000_000) for _ in range(records))
    for offset in offsets:
        # Recent learners are the most active: draw from the newest part of the pool first.
        user = pool - 1 - int(rng.expovariate(1 / (pool / 4))) % pool
        course = _COURSES[user % len(_COURSES)]
        block = rng.randrange(1, 40)
        sourcedid = f"course-v1:Bamboo+{course}+2024:lms+block-v1:{course}+type@problem+{block}"
        passback = f"{{'oauth_consumer_key': '', 'lis_result_sourcedid': '{sourcedid}'"
        if with_service_url:
            passback += f", 'lis_outcome_service_url': 'https://lms.example.org/{course}/grade'"
        passback += "}"
        submit = rng.random() < 0.45
        is_correct = ("1" if rng.random() < 0.6 else "0") if submit else "null"
        user_id = "null" if rng.random() < 0.002 else f'"{_user_id(seed, user)}"'
        created_at = start + timedelta(microseconds=offset)
        yield (
            f'{{"lti_user_id": {user_id}, "passback_params": "{passback}", '
            f'"is_correct": {is_correct}, "attempt_type": "{"submit" if submit else "run"}", '
            f'"created_at": "{created_at:%Y-%m-%d %H:%M:%S.%f}"}}'
        )


def simulated_answer(day: date, records: int, seed: int = 0) -> Iterator[bytes]:
    """The whole answer for `day` as a JSON list, in chunks of about 1 MB."""
    yield b"["
    chunk: list[str] = []
    size = 0
    for index, record in enumerate(simulated_records(day, records, seed)):
        chunk.append(record if index == 0 else ", " + record)
        size += len(record)
        if size > 1 << 20:
            yield "".join(chunk).encode()
            chunk, size = [], 0
    yield "".join(chunk).encode() + b"]"


def records_for(day: date, mean_records: int, seed: int = 0) -> int:
    """A day's volume: around `mean_records`, lower at weekends, fixed per day."""
    rng = random.Random(f"{seed}:volume:{day.isoformat()}")
    weekend = 0.6 if day.weekday() >= 5 else 1.0
    return int(mean_records * weekend * rng.uniform(0.85, 1.15))
