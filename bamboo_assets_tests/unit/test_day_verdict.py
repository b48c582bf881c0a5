"""One day's answer judged: the COPY rows, the rejections and the counts a run reports.

Pure (no database): the rows are read back the way COPY would read them, so what is checked
is what `bamboo.validated_attempts`, `bamboo.rejected_attempts` and the run's metadata get.
"""

import io
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bamboo_assets.core.validation import first_days_copy, judge_answer

DAY = date(2025, 3, 5)
MOSCOW = ZoneInfo("Europe/Moscow")
USUAL_PASSBACK = "{'oauth_consumer_key': 'k1', 'lis_result_sourcedid': 'src-1'}"


def record(user: object, created_at: str, **changes: object) -> dict[str, object]:
    return {
        "lti_user_id": user,
        "passback_params": USUAL_PASSBACK,
        "is_correct": 1,
        "attempt_type": "submit",
        "created_at": created_at,
    } | changes


def unescape(field: str) -> str | None:
    """A COPY text field as PostgreSQL reads it."""
    if field == "\\N":
        return None
    escapes = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}
    out, i = [], 0
    while i < len(field):
        pair = field[i : i + 2]
        if pair in escapes:
            out.append(escapes[pair])
            i += 2
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def judged(records: list[object], timezone=MOSCOW):
    """(rows as COPY reads them, rejections as (position, reason, record), verdict)."""
    writes: list[str] = []
    rejected = io.StringIO()
    body = ("[" + ",\n ".join(json.dumps(r) for r in records) + "]").encode()
    verdict = judge_answer(io.BytesIO(body), DAY, timezone, writes.append, rejected)
    rows = [
        [unescape(field) for field in line.split("\t")] for line in "".join(writes).splitlines()
    ]
    rejections = [
        (int(position), reason, json.loads(unescape(text)))
        for day, position, reason, text in (
            line.split("\t") for line in rejected.getvalue().splitlines()
        )
        if day == DAY.isoformat()
    ]
    return rows, rejections, verdict


def test_every_field_of_a_valid_row_is_written_as_copy_reads_it_back() -> None:
    records = [
        record("u-plain", "2025-03-05 10:00:00.000001"),  # the usual shape: the fast path
        record(
            "tab\tuser",
            "2025-03-05T07:00:00Z",
            passback_params=repr(
                {
                    "oauth_consumer_key": "back\\slash",
                    "lis_result_sourcedid": "line\nbreak",
                    "lis_outcome_service_url": "cr\rhere",
                }
            ),
            is_correct=None,
            attempt_type="run",
        ),
        record("u-none", "2025-03-05 11:00:00", passback_params=None, is_correct=False),
        record(
            "u-url",
            "2025-03-05 12:00:00",
            passback_params="{'oauth_consumer_key': '', 'lis_result_sourcedid': 's', "
            "'lis_outcome_service_url': 'https://lms.example.org/grade'}",
            is_correct=0,
        ),
    ]
    rows, rejections, verdict = judged(records)

    assert rejections == []
    assert rows == [
        ["2025-03-05", "0", "u-plain", "k1", "src-1", None, "1", "submit",
         "2025-03-05 10:00:00.000001"],
        ["2025-03-05", "1", "tab\tuser", "back\\slash", "line\nbreak", "cr\rhere", None, "run",
         "2025-03-05 10:00:00"],  # 07:00 UTC is 10:00 in Moscow
        ["2025-03-05", "2", "u-none", None, None, None, "0", "submit", "2025-03-05 11:00:00"],
        ["2025-03-05", "3", "u-url", "", "s", "https://lms.example.org/grade", "0", "submit",
         "2025-03-05 12:00:00"],
    ]  # fmt: skip
    assert (verdict.extracted, verdict.valid, verdict.rejected_total) == (4, 4, 0)
    assert verdict.unreadable_passback == 1  # only u-none's passback_params cannot be read


def test_counts_and_rejections_match_what_the_answer_holds() -> None:
    records = [
        record(None, "2025-03-05 10:00:00"),
        record("u1", "2025-03-05 10:00:01"),
        record(7, "2025-03-05 10:00:02"),
        record("u2", "2025-03-05"),
        record("u3", "2025-03-05 10:00:03", passback_params="not a dict"),
        record("u4", "2025-03-05 10:00:04", passback_params="[1]"),
        "not an object",
    ]
    rows, rejections, verdict = judged(records)

    assert [row[2] for row in rows] == ["u1", "u3", "u4"]
    assert rejections == [
        (0, "lti_user_id is not a string", records[0]),
        (2, "lti_user_id is not a string", records[2]),
        (3, "created_at has no time of day", records[3]),
        (6, "record is not a JSON object", records[6]),
    ]
    assert (verdict.extracted, verdict.valid, verdict.rejected_total) == (7, 3, 4)
    assert dict(verdict.rejected) == {
        "lti_user_id is not a string": 2,
        "created_at has no time of day": 1,
        "record is not a JSON object": 1,
    }
    assert verdict.unreadable_passback == 2


def test_an_empty_answer_is_a_day_of_zeros() -> None:
    rows, rejections, verdict = judged([])
    assert (rows, rejections) == ([], [])
    assert (verdict.extracted, verdict.valid, verdict.rejected_total) == (0, 0, 0)
    assert (verdict.unreadable_passback, verdict.first_seen) == (0, {})


def test_each_users_first_moment_is_the_earliest_valid_one_in_the_timezone() -> None:
    records = [
        record("late-first", "2025-03-05 18:00:00"),
        record("late-first", "2025-03-05T01:30:00+00:00"),  # 04:30 in Moscow: the earliest
        record("late-first", "2025-03-05 09:00:00"),
        record("late-first", "2025-03-05 01:00:00", attempt_type="compile"),  # rejected
        record("one", "2025-03-05 12:00:00.5"),
    ]
    _, _, verdict = judged(records)
    assert verdict.first_seen == {
        "late-first": datetime(2025, 3, 5, 4, 30),
        "one": datetime(2025, 3, 5, 12, 0, 0, 500000),
    }
    assert first_days_copy(DAY, verdict.first_seen) == (
        "2025-03-05\tlate-first\t2025-03-05\n2025-03-05\tone\t2025-03-05\n"
    )


def test_a_large_day_keeps_every_row_in_order() -> None:
    records = [
        record(f"u{n}", f"2025-03-05 {n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}")
        for n in range(10_000)
    ]
    rows, _, verdict = judged(records, ZoneInfo("UTC"))
    assert [row[:3] for row in rows] == [["2025-03-05", str(n), f"u{n}"] for n in range(10_000)]
    assert verdict.valid == 10_000
