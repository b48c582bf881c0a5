"""Late records: a day fetched again says how many records are new since the previous fetch and
how many the API no longer returns; those stay in public.solutions."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

from bamboo_assets.core.refetch import late_records
from bamboo_assets_tests.support.bamboo import Bamboo, day_metadata, digests, query
from bamboo_assets_tests.support.faults import Answers, answer_of, simulated

DAY = date(2025, 3, 5)
REFETCH = {"ops": {"bamboo_pipeline": {"config": {"refetch": True}}}}


def test_late_records_compares_the_exact_records_of_two_answers() -> None:
    before = answer_of([{"a": 1}, {"a": 2}, {"a": 2}, {"a": 3}])
    after = answer_of([{"a": 2}, {"a": 3}, {"a": 4}, {"a": 5}, {"a": 3}])
    assert late_records(io.BytesIO(before), io.BytesIO(after)) == (3, 2)  # +4 +5 +3, -1 -2
    assert late_records(io.BytesIO(before), io.BytesIO(before)) == (0, 0)


def test_a_day_fetched_again_counts_new_and_vanished_records_and_keeps_the_vanished(
    bamboo: Bamboo, answers: Answers, bamboo_home: Path, database_dsn: str
) -> None:
    records = json.loads(simulated(DAY, 30))
    first = bamboo.run(str(DAY))
    assert first.success
    fetched = day_metadata(first, "raw_attempts")[str(DAY)]
    assert fetched["answer"] == "fetched"
    assert "new_records" not in fetched and "gone_records" not in fetched  # a first fetch
    loaded = query(database_dsn, "SELECT count(*) FROM public.solutions")[0][0]

    # The API now drops two records and has three late ones.
    late = [dict(records[0], lti_user_id=f"late-{n}") for n in range(3)]
    answers.by_day[str(DAY)] = answer_of(records[2:] + late)
    again = bamboo.run(str(DAY), run_config=REFETCH)

    assert again.success
    row = day_metadata(again, "raw_attempts")[str(DAY)]
    assert (row["answer"], row["new_records"], row["gone_records"]) == ("fetched", 3, 2)
    digest = digests(bamboo_home)[-1]
    assert f"    {DAY}: 3 new / 2 no longer returned" in digest
    assert "Records the API no longer returns stay in public.solutions." in digest
    # The two records the API no longer returns are still in public.solutions.
    assert query(database_dsn, "SELECT count(*) FROM public.solutions")[0][0] == loaded + 3
    for dropped in records[:2]:
        kept = query(
            database_dsn,
            "SELECT count(*) FROM public.solutions WHERE user_id = %s AND created_at = %s",
            (dropped["lti_user_id"], dropped["created_at"]),
        )
        assert kept == [(1,)]
