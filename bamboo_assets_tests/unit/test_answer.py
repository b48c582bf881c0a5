"""Reading stored answers: streaming, exact record text, clear errors for broken bodies."""

import io
import json
from datetime import date
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bamboo_assets.core.answer import iter_records
from bamboo_assets.core.validation import copy_text, judge_answer

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(deadline=None)  # a noisy machine must not fail a property
@given(
    elements=st.lists(_json, max_size=20),
    chunk=st.integers(1, 50),
    indent=st.sampled_from([None, 1]),
)
def test_elements_and_their_text_survive_any_chunking(
    elements: list, chunk: int, indent: int | None
) -> None:
    body = json.dumps(elements, indent=indent, ensure_ascii=False).encode()
    got = list(iter_records(io.BytesIO(body), chunk_size=chunk))
    assert [element for element, _, _ in got] == elements
    assert [json.loads(text) for _, text, _ in got] == elements
    assert not any(by_shortcut for _, _, by_shortcut in got)


def test_copy_text_escapes_what_copy_would_misread() -> None:
    assert copy_text(None) == "\\N"
    assert copy_text("a\tb\nc\\d\re") == "a\\tb\\nc\\\\d\\re"
    assert copy_text("plain") == "plain"


def test_judge_answer_splits_valid_rows_from_rejections_and_keeps_the_record_text() -> None:
    records = [
        {
            "lti_user_id": "u1",
            "passback_params": "{}",
            "is_correct": None,
            "attempt_type": "run",
            "created_at": "2025-03-01 10:00:00.000001",
        },
        {
            "lti_user_id": None,
            "passback_params": "{}",
            "is_correct": 1,
            "attempt_type": "submit",
            "created_at": "2025-03-01 11:00:00",
        },
        {
            "lti_user_id": "tab\there",
            "passback_params": "{}",
            "is_correct": 0,
            "attempt_type": "submit",
            "created_at": "2025-03-01 12:00:00",
        },
    ]
    valid: list[str] = []
    rejected = io.StringIO()
    body = json.dumps(records).encode()
    verdict = judge_answer(
        io.BytesIO(body), date(2025, 3, 1), ZoneInfo("UTC"), valid.append, rejected
    )

    assert (verdict.extracted, verdict.valid, verdict.rejected_total) == (3, 2, 1)
    assert dict(verdict.rejected) == {"lti_user_id is not a string": 1}
    rows = "".join(valid).splitlines()
    assert rows[0].split("\t") == [
        "2025-03-01",
        "0",
        "u1",
        "\\N",
        "\\N",
        "\\N",
        "\\N",
        "run",
        "2025-03-01 10:00:00.000001",
    ]
    assert rows[1].split("\t")[2] == "tab\\there"
    day, position, reason, text = rejected.getvalue().rstrip("\n").split("\t")
    assert (day, position, reason) == ("2025-03-01", "1", "lti_user_id is not a string")
    assert json.loads(text) == records[1]
