"""The API-shape check: records carrying keys other than the five the notebook reads, or
lacking one, are counted per key and fail a warning check; the records still load exactly as
the notebook's rules say."""

from __future__ import annotations

import json
from datetime import date, datetime

import dagster as dg
import pytest

from bamboo_assets_tests.servers import FakeStatisticsApi, Reply
from bamboo_assets_tests.support.bamboo import Bamboo, check_evaluations, query
from bamboo_assets_tests.support.faults import Answers, answer_of, simulated

DAY, ORDINARY = date(2025, 3, 5), date(2025, 3, 6)
CHECK = "api_records_have_the_expected_keys"


@pytest.fixture
def answers() -> Answers:
    return Answers(records_per_day=300)


def test_an_unknown_key_fails_the_warning_naming_it_and_the_records_still_load(
    bamboo: Bamboo, api: FakeStatisticsApi, database_dsn: str
) -> None:
    records = json.loads(simulated(DAY, 300))
    for record in records:
        record["course_id"] = "course-v1:B+SQL-101"
    for record in records[:2]:
        del record["is_correct"]
    api.fail_day(str(DAY), Reply(200, answer_of(records)))

    odd = bamboo.run(str(DAY))

    assert odd.success  # a warning only
    check = check_evaluations(odd)[CHECK]
    n = len(records)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.description == (
        f"record keys other than the notebook's: course_id: {n:,} records, "
        "missing is_correct: 2 records"
    )
    meta = {name: value.value for name, value in check.metadata.items()}
    assert (meta["unexpected_keys"], meta["missing_keys"]) == ({"course_id": n}, {"is_correct": 2})
    assert (meta["fast_path_records"], meta["general_parser_records"]) == (0, n)
    # Loaded as the notebook's rules say: the extra key ignored, a missing is_correct rejected.
    stored = query(
        database_dsn,
        "SELECT user_id, is_correct, attempt_type, created_at FROM public.solutions",
    )
    expected = {
        (
            r["lti_user_id"],
            r["is_correct"],
            r["attempt_type"],
            datetime.fromisoformat(r["created_at"]),
        )
        for r in records[2:]
    }
    assert set(stored) == expected and len(stored) == n - 2
    reasons = query(
        database_dsn, "SELECT reason, count(*) FROM bamboo.rejected_attempts GROUP BY 1"
    )
    assert reasons == [("is_correct missing", 2)]

    ordinary = bamboo.run(str(ORDINARY))
    check = check_evaluations(ordinary)[CHECK]
    assert check.passed
    fast = check.metadata["fast_path_records"].value
    assert fast > 0 and check.metadata["general_parser_records"].value == 0
