"""An answer that stops after a complete element, before the list's closing `]`.

The records read so far look fine, so a reader that took end of input for the end of the list
would load a partial day as if it were whole. What the user must see instead: the day fails,
saying the answer is cut off, and nothing of it is loaded.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi
from bamboo_assets_tests.faults import Answers, answer_of, day_counts, failure_message, simulated
from bamboo_assets_tests.helpers import ASSETS, local_resources, materialize_days
from bamboo_assets_tests.servers import FakeStatisticsApi

DAY = "2025-03-05"
RECORDS = json.loads(simulated(date.fromisoformat(DAY), 40))


@pytest.mark.parametrize(
    ("body", "step", "says"),
    [
        # Ends with the last record's `}`: the API's answer is set aside when it arrives.
        (
            answer_of(RECORDS)[:-1],
            "raw_attempts",
            f"the answer for {DAY} is not a JSON list: it is cut off (no closing ']')",
        ),
        (
            answer_of(RECORDS)[:-1] + b",\n",
            "raw_attempts",
            f"the answer for {DAY} is not a JSON list: it is cut off (no closing ']')",
        ),
        # Ends with a complete element that is itself a list: it ends in `]`, so only reading
        # the answer element by element finds that the outer list is not closed.
        (
            answer_of([*RECORDS, ["late", 1]])[:-1],
            "validated_attempts",
            f"the stored answer for {DAY} is not valid JSON (truncated JSON at character ",
        ),
    ],
    ids=["after-a-record", "after-a-comma", "after-a-list-element"],
)
def test_an_answer_without_its_closing_bracket_fails_the_day_and_loads_nothing(
    bamboo_home: Path, warehouse, database_dsn: str, body: bytes, step: str, says: str
) -> None:
    answers = Answers()
    answers.by_day[DAY] = body
    with FakeStatisticsApi(answers, client_key="sk-cut") as api:
        resources = local_resources(bamboo_home, warehouse)
        resources["statistics_api"] = ItresumeStatisticsApi(
            url=api.url, client="acme", client_key="sk-cut"
        )
        result = materialize_days(DAY, DAY, resources, assets=ASSETS[:3])

    assert not result.success
    assert says in failure_message(result, step)
    counts = day_counts(database_dsn, date.fromisoformat(DAY))
    assert counts == dict.fromkeys(counts, 0)
