"""Answers that are not a usable JSON list, and an empty one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bamboo_assets_tests.failures.runs import (
    DAY,
    HEADER,
    LOADING,
    SHEET,
    D,
    production,
    raw_dir,
    run,
    use_sheets,
)
from bamboo_assets_tests.faults import Answers, answer_of, day_counts, failure_message, simulated
from bamboo_assets_tests.helpers import stored_answer, stored_metrics
from bamboo_assets_tests.servers import (
    FakeGoogleSheets,
    FakeStatisticsApi,
    Reply,
    SmtpServer,
    Truncated,
)


def test_a_cut_off_body_fails_the_day_and_keeps_the_bytes_received(
    env: dict[str, str], api: FakeStatisticsApi, answers: Answers, database_dsn: str
) -> None:
    body = simulated(DAY, 8000)  # > 2 MB, so whole 1 MB chunks arrive before the cut
    answers.by_day[D] = body
    api.fail_next(Truncated(keep_bytes=len(body) - 1000))

    outcome = run(production(), assets=LOADING)

    assert not outcome.success
    message = failure_message(outcome.result, "raw_attempts")
    assert f"cut off the answer for {D} after " in message
    assert f" of {len(body)} bytes (ChunkedEncodingError); nothing was loaded for {D}" in message
    (partial,) = (raw_dir(env) / "incoming").glob(f"{D}-*.json.zst")
    assert f"the bytes received are kept at {partial}" in message
    assert 0 < partial.stat().st_size < len(body)
    assert body.startswith(stored_answer(partial))
    assert not (raw_dir(env) / f"{D}.json.zst").exists()
    assert day_counts(database_dsn, DAY)["solutions"] == 0


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "it starts '<html><body>502 Bad Gateway"),
        (b'{"errors": "client_key expired"}', 'it starts \'{"errors": "client_key expired"}\''),
        (b"", "it is empty"),
        (b'[{"lti_user_id": "a", "passback_params": nul', "it is cut off (no closing ']')"),
    ],
    ids=["html", "error-object", "empty", "cut-off-list"],
)
def test_an_answer_that_is_not_a_json_list_is_set_aside_and_nothing_is_loaded(
    env: dict[str, str], api: FakeStatisticsApi, database_dsn: str, body: bytes, says: str
) -> None:
    api.fail_next(Reply(200, body, {"Content-Type": "text/html"}))

    outcome = run(production(), assets=LOADING)

    assert not outcome.success
    message = failure_message(outcome.result, "raw_attempts")
    (kept,) = (raw_dir(env) / "failed").glob(f"{D}-*.json.zst")
    assert f"the answer for {D} is not a JSON list: {says}" in message
    assert f"kept at {kept}" in message
    assert stored_answer(kept) == body
    assert not (raw_dir(env) / f"{D}.json.zst").exists()
    assert day_counts(database_dsn, DAY) == dict.fromkeys(day_counts(database_dsn, DAY), 0)


def test_a_list_with_broken_json_inside_fails_validation_and_loads_nothing(
    env: dict[str, str], api: FakeStatisticsApi, answers: Answers, database_dsn: str
) -> None:
    good = json.loads(simulated(DAY, 30))
    body = answer_of(good)[:-1] + b', {"lti_user_id": "x" "is_correct": 1}]'
    answers.by_day[D] = body

    outcome = run(production(), assets=LOADING)

    assert not outcome.success
    message = failure_message(outcome.result, "validated_attempts")
    stored = raw_dir(env) / f"{D}.json.zst"
    assert f"the stored answer for {D} is not valid JSON" in message
    assert f"it is kept at {stored} for inspection and nothing was loaded for {D}" in message
    assert stored_answer(stored) == body
    assert day_counts(database_dsn, DAY) == dict.fromkeys(day_counts(database_dsn, DAY), 0)


# -- a day without attempts --------------------------------------------------------------


def test_a_day_without_attempts_succeeds_with_zero_counts_everywhere(
    env: dict[str, str],
    answers: Answers,
    database_dsn: str,
    sheets: FakeGoogleSheets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers.by_day[D] = b"[]"
    use_sheets(sheets, tmp_path, monkeypatch, "Metrics")
    with SmtpServer() as smtp:
        for name, value in {
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "DIGEST_SENDER": "etl@example.org",
            "DIGEST_RECIPIENTS": "lead@example.org",
        }.items():
            monkeypatch.setenv(name, value)
        outcome = run(production())

    assert outcome.success, outcome.errors()
    validated = outcome.metadata("validated_attempts")
    assert (validated["extracted"], validated["valid"], validated["rejected"]) == (0, 0, 0)
    loaded = outcome.metadata("solutions_table")
    assert (loaded["prepared"], loaded["inserted"]) == (0, 0)
    assert stored_metrics(database_dsn) == []
    assert sheets.grid(SHEET, "Metrics") == [HEADER]
    (message,) = smtp.messages
    body = message.get_body(("plain",)).get_content()
    for line in (
        "Rows extracted by API: 0",
        "Rows validated: 0",
        "Rows prepared to insert to DB: 0",
        "New rows inserted to DB: 0",
    ):
        assert line in body
