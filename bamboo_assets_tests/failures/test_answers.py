"""Answers that are not a usable JSON list, and an empty one."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bamboo_assets_tests.failures.runs import (
    DAY,
    LOADING,
    SHEET,
    D,
    production,
    raw_dir,
    run,
    use_sheets,
)
from bamboo_assets_tests.servers import (
    FakeGoogleSheets,
    FakeStatisticsApi,
    Reply,
    SmtpServer,
    Truncated,
)
from bamboo_assets_tests.support.bamboo import HEADER, stored_answer, stored_metrics
from bamboo_assets_tests.support.faults import Answers, answer_of, day_counts, simulated


def test_a_cut_off_body_fails_the_day_and_keeps_the_bytes_received(
    env: dict[str, str], api: FakeStatisticsApi, answers: Answers, database_dsn: str
) -> None:
    body = simulated(DAY, 8000)  # > 2 MB, so whole 1 MB chunks arrive before the cut
    answers.by_day[D] = body
    api.fail_next(Truncated(keep_bytes=len(body) - 1000))

    outcome = run(production(), select=LOADING)

    assert not outcome.success
    message = outcome.message()
    assert f"cut off the answer for {D} after " in message
    assert f" of {len(body)} bytes (ChunkedEncodingError); nothing was loaded for {D}" in message
    (partial,) = (raw_dir(env) / "incoming").glob(f"{D}-*.json.zst")
    assert f"the bytes received are kept at {partial}" in message
    assert 0 < partial.stat().st_size < len(body)
    assert body.startswith(stored_answer(partial))
    assert not (raw_dir(env) / f"{D}.json.zst").exists()
    assert day_counts(database_dsn, DAY)["solutions"] == 0


# What each day of the API's answers is, and how the run names it.
NOT_LISTS = {
    "2025-03-05": (
        b"<html><body>502 Bad Gateway</body></html>",
        "it starts '<html><body>502 Bad Gateway",
    ),
    "2025-03-06": (
        b'{"errors": "client_key expired"}',
        'it starts \'{"errors": "client_key expired"}\'',
    ),
    "2025-03-07": (b"", "it is empty"),
    "2025-03-08": (
        b'[{"lti_user_id": "a", "passback_params": nul',
        "it is cut off (no closing ']')",
    ),
}


def test_an_answer_that_is_not_a_json_list_is_set_aside_and_nothing_is_loaded(
    env: dict[str, str], api: FakeStatisticsApi, database_dsn: str
) -> None:
    """HTML, an error object, nothing, a list cut off: one day of the run each."""
    for day, (body, _) in NOT_LISTS.items():
        api.fail_day(day, Reply(200, body, {"Content-Type": "text/html"}))

    outcome = run(production(), "2025-03-05", "2025-03-08", select=LOADING)

    assert not outcome.success
    message = outcome.message()
    assert "4 of 4 days failed; nothing was loaded for them." in message
    for day, (body, says) in NOT_LISTS.items():
        (kept,) = (raw_dir(env) / "failed").glob(f"{day}-*.json.zst")
        assert (f"{day}: the answer for {day} is not a JSON list: {says}") in message, day
        assert f"kept at {kept} (at raw_attempts)" in message, day
        assert stored_answer(kept) == body, day
        assert not (raw_dir(env) / f"{day}.json.zst").exists(), day
        counts = day_counts(database_dsn, date.fromisoformat(day))
        assert counts == dict.fromkeys(counts, 0), day


def test_a_list_with_broken_json_inside_fails_validation_loads_nothing_and_is_set_aside(
    env: dict[str, str], api: FakeStatisticsApi, answers: Answers, database_dsn: str
) -> None:
    """Set aside, the day has no answer any more: materializing it again fetches it again."""
    good = json.loads(simulated(DAY, 30))
    body = answer_of(good)[:-1] + b', {"lti_user_id": "x" "is_correct": 1}]'
    answers.by_day[D] = body

    outcome = run(production(), select=LOADING)

    assert not outcome.success
    message = outcome.message()
    (aside,) = (raw_dir(env) / "failed").glob(f"{D}-*.json.zst")
    assert f"the stored answer for {D} is not valid JSON" in message
    assert f"nothing was loaded for {D}, and the answer was set aside at {aside}" in message
    assert "(at validated_attempts)" in message
    assert stored_answer(aside) == body
    assert not (raw_dir(env) / f"{D}.json.zst").exists()
    assert day_counts(database_dsn, DAY) == dict.fromkeys(day_counts(database_dsn, DAY), 0)

    answers.by_day[D] = answer_of(good)  # the API's answer is whole again
    asked = len(api.requests)
    again = run(production(), select=LOADING)
    assert again.success, again.errors()
    assert [request["start"][:10] for request in api.requests[asked:]] == [D]
    counts = day_counts(database_dsn, DAY)
    assert counts["solutions"] == counts["validated"] > 0


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
    assert stored_metrics(database_dsn) == []  # the notebook's query has no row for it
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
