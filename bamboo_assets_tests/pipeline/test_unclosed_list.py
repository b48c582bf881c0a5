"""An answer that stops after a complete element, before the list's closing `]`.

The records read so far look fine, so a reader that took end of input for the end of the list
would load a partial day as if it were whole. What the user must see instead: the day fails,
saying the answer is cut off, at the step that found it, and nothing of it is loaded. Each way
of stopping is a day of one run.
"""

from __future__ import annotations

import json
from datetime import date

from bamboo_assets_tests.support.bamboo import LINEAGE, Bamboo
from bamboo_assets_tests.support.faults import (
    Answers,
    answer_of,
    day_counts,
    failure_message,
    simulated,
)

RECORDS = json.loads(simulated(date(2025, 3, 5), 40))
NOT_A_LIST = "the answer for {day} is not a JSON list: it is cut off (no closing ']')"
# day → (the API's answer, what the run says about the day, the step that finds it)
CASES = {
    # Ends with the last record's `}`: the API's answer is set aside when it arrives.
    "2025-03-05": (answer_of(RECORDS)[:-1], NOT_A_LIST, "raw_attempts"),
    "2025-03-06": (answer_of(RECORDS)[:-1] + b",\n", NOT_A_LIST, "raw_attempts"),
    # Ends with a complete element that is itself a list: it ends in `]`, so only reading the
    # answer element by element finds that the outer list is not closed.
    "2025-03-07": (
        answer_of([*RECORDS, ["late", 1]])[:-1],
        "the stored answer for {day} is not valid JSON (truncated JSON at character ",
        "validated_attempts",
    ),
}


def test_an_answer_without_its_closing_bracket_fails_the_day_and_loads_nothing(
    bamboo: Bamboo, answers: Answers, database_dsn: str
) -> None:
    for day, (body, _, _) in CASES.items():
        answers.by_day[day] = body

    result = bamboo.run("2025-03-05", "2025-03-07", select=LINEAGE[:3])

    assert not result.success
    message = failure_message(result, "bamboo_pipeline")
    assert "3 of 3 days failed; nothing was loaded for them." in message
    for day, (_, says, step) in CASES.items():
        said = message.split(f" {day}: ")[1].split(" | ")[0]
        assert said.startswith(says.format(day=day)) and f" (at {step})" in said, day
        counts = day_counts(database_dsn, date.fromisoformat(day))
        assert counts == dict.fromkeys(counts, 0), day
