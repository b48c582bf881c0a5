"""What a broken answer says: the reason and where in the answer, whatever the chunking.

The message ends up in the failed step's error in the UI (`… is not valid JSON (<this>)`), so
its position must point at the place to look at in `raw/<day>.json`.
"""

import io
import json

import pytest

from bamboo_assets.core.answer import MalformedAnswer, iter_records
from bamboo_assets.core.rules import common_attempt

RECORD = (
    '{"lti_user_id": "u1", "passback_params": "{\'oauth_consumer_key\': \'\', '
    '\'lis_result_sourcedid\': \'s\'}", "is_correct": 1, "attempt_type": "submit", '
    '"created_at": "2025-03-05 10:00:00.000001"}'
)


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the answer is not a JSON list: it is empty"),
        (b" \n\t ", "the answer is not a JSON list: it is empty"),
        (b'{"errors": "bad key"}', "the answer is not a JSON list: it starts with '{'"),
        (b"[", "truncated or invalid JSON at character 1"),
        (b"[ \n", "truncated or invalid JSON at character 3"),
        (b"[1", "truncated JSON at character 2"),
        (b"[1,", "truncated or invalid JSON at character 3"),
        (b"[1, 2 ", "truncated JSON at character 6"),
        (b"[1,]", "truncated or invalid JSON at character 3"),
        (b'[{"a": 1} {"b": 2}]', "expected ',' or ']' at character 10"),
        (b"[1 2]", "expected ',' or ']' at character 3"),
        (b"[1] x", "unexpected data after the list at character 4"),
        (b"[]x", "unexpected data after the list at character 2"),
        (b'[1, "abc', "truncated or invalid JSON at character 4"),
        (b"[" + b"9" * 5000 + b"]", "a number too long to read at character 1"),
        (b"[1, " + b"[" * 99_999 + b"]" * 99_999 + b"]", "nesting too deep to read at character 4"),
        (b'["\xff"]', "the answer is not valid UTF-8: invalid start byte"),
        (b"[1]\xc3", "the answer is not valid UTF-8: unexpected end of data"),
        (f"[{RECORD}, {RECORD}".encode(), f"truncated JSON at character {2 * len(RECORD) + 3}"),
        (f"[{RECORD},\n{{".encode(), f"truncated or invalid JSON at character {len(RECORD) + 3}"),
    ],
)
def test_a_broken_answer_says_what_is_wrong_and_where(
    body: bytes, message: str, chunk: int
) -> None:
    with pytest.raises(MalformedAnswer) as raised:
        list(iter_records(io.BytesIO(body), chunk_size=chunk, shortcut=common_attempt))
    assert str(raised.value) == message


@pytest.mark.parametrize("chunk", [1, 2, 7, 1 << 20])
@pytest.mark.parametrize(
    ("body", "elements"),
    [
        (b"[]", []),
        (b" \r\n[ \t] \n", []),
        (b"[12345, 6.5e3,-7]", [12345, 6500.0, -7]),
        (b'[ {"a": [1, 2]} ,\n\t"x" , null,true ]', [{"a": [1, 2]}, "x", None, True]),
        (b'["\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"]', ["\u00e9\u20ac\U0001f600"]),
    ],
)
def test_well_formed_answers_give_every_element_with_its_text(
    body: bytes, elements: list, chunk: int
) -> None:
    got = list(iter_records(io.BytesIO(body), chunk_size=chunk))
    assert [element for element, _, _ in got] == elements
    texts = [text.strip() for _, text, _ in got]
    assert texts == [text for text in texts if text]  # no element text is only whitespace
    assert [json.loads(text) for text in texts] == elements


def test_the_shortcut_reads_the_usual_records_and_says_so() -> None:
    odd = '{"lti_user_id": "u2", "extra": 1}'
    body = f"[{RECORD},{odd} , {RECORD}]".encode()
    got = list(iter_records(io.BytesIO(body), shortcut=common_attempt))
    assert [(text, by_shortcut) for _, text, by_shortcut in got] == [
        (RECORD, True),
        (odd, False),
        (RECORD, True),
    ]
    assert got[1][0] == {"lti_user_id": "u2", "extra": 1}
    assert got[0][0].user_id == got[2][0].user_id == "u1"
