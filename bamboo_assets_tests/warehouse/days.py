"""Days staged from answers the way validated_attempts stages them, for the warehouse tests."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from bamboo_assets.core.simulator import simulated_answer
from bamboo_assets.core.validation import DayVerdict
from bamboo_assets.warehouse.staging import create_partitions, stage_day, staged_days

UTC = ZoneInfo("UTC")


def simulated(day: date, records: int) -> bytes:
    """The simulator's answer for `day` (the same bytes every time)."""
    return b"".join(simulated_answer(day, records))


def answer_of(records: Sequence[Any]) -> bytes:
    return json.dumps(list(records)).encode()


def stage(conn: psycopg.Connection, day: date, answer: bytes) -> DayVerdict:
    """Stage `answer` as `day`'s, as validated_attempts does (created_at taken as UTC)."""
    if day not in staged_days(conn):
        create_partitions(conn, [day])
    return stage_day(conn, day, io.BytesIO(answer), UTC)


def attempt(user: str, created_at: str, course: str = "c", is_correct: int | None = 1) -> dict:
    """A valid API record."""
    return {
        "lti_user_id": user,
        "passback_params": f"{{'oauth_consumer_key': '', 'lis_result_sourcedid': '{course}'}}",
        "is_correct": is_correct,
        "attempt_type": "run" if is_correct is None else "submit",
        "created_at": created_at,
    }
