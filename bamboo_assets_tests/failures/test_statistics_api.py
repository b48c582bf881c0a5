"""The statistics API failing: errors, refusals, silence, retries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bamboo_assets.resources.statistics_api import ItresumeStatisticsApi
from bamboo_assets_tests.failures.runs import DAY, KEY, LOADING, D, production, raw_dir, run
from bamboo_assets_tests.servers import FakeStatisticsApi, Hang, Reply
from bamboo_assets_tests.support.bamboo import (
    digests,
    notebook_metrics,
    stored_answer,
    stored_metrics,
)
from bamboo_assets_tests.support.faults import Answers, day_counts, materialized, simulated


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_api_errors_are_retried_with_backoff_honouring_retry_after(
    env: dict[str, str], api: FakeStatisticsApi, status: int
) -> None:
    # Servers send Retry-After with 429 and 503; it is honoured whatever the status.
    first = Reply(
        status, b'{"errors": "busy"}', {"Retry-After": "1"} if status in (429, 503) else {}
    )
    api.fail_next(first, Reply(status, b"<html>busy</html>"))

    outcome = run(production(), select=["raw_attempts"])

    assert outcome.success
    assert stored_answer(raw_dir(env) / f"{D}.json.zst") == simulated(DAY, 30)
    retries = [line for line in outcome.log if "retrying" in line]
    assert retries == [
        f"statistics API: HTTP {status}; retrying (attempt 2 of 3, waiting "
        f"{1.0 if status in (429, 503) else 0.0:.1f}s)",
        f"statistics API: HTTP {status}; retrying (attempt 3 of 3, waiting 0.0s)",
    ]
    first_gap = api.request_times[1] - api.request_times[0]
    assert first_gap >= (0.95 if status in (429, 503) else 0.0)
    assert len(api.requests) == 3


def test_a_retry_after_of_hours_is_capped_so_the_run_is_not_stalled(
    env: dict[str, str], api: FakeStatisticsApi
) -> None:
    api.fail_next(Reply(429, b"", {"Retry-After": "21600"}))
    outcome = run(production(retry_after_max_seconds=0.2), select=["raw_attempts"])
    assert outcome.success
    assert outcome.seconds < 10
    assert any("HTTP 429; retrying (attempt 2 of 3, waiting 0.2s)" in m for m in outcome.log)


def test_an_api_that_keeps_failing_fails_the_days_loads_nothing_and_a_rerun_recovers(
    env: dict[str, str], api: FakeStatisticsApi, answers: Answers, database_dsn: str
) -> None:
    before, fresh = DAY, DAY + timedelta(days=1)
    assert run(production()).success
    kept_answer = stored_answer(raw_dir(env) / f"{before}.json.zst")
    kept_counts = day_counts(database_dsn, before)
    assert kept_counts["solutions"] > 0

    # The API now has a different answer for the earlier day, but answers 503 to every try.
    answers.by_day[str(before)] = simulated(before, 45)
    api.fail_next(*[Reply(503, b'{"errors": "maintenance"}')] * 6)
    refetch = {"ops": {"bamboo_pipeline": {"config": {"refetch": True}}}}  # the day is final
    failed = run(production(), str(before), str(fresh), run_config=refetch)

    assert not failed.success
    message = failed.message()
    assert "2 of 2 days failed; nothing was loaded for them" in message
    for day in (before, fresh):
        assert (
            f"{day}: statistics API {api.url} (client acme) answered HTTP 503 for {day} "
            "after 3 tries (at raw_attempts)"
        ) in message
    assert materialized(failed.result) == set()
    # Every day failed, and the run's digest still goes out, saying so first.
    digest = digests(Path(env["BAMBOO_HOME"]))[-1]
    assert digest.startswith(
        f"Subject: Bamboo digest: {before} to {fresh} (2 days), 1 not loaded, 1 failed\n"
        f"Not loaded: 1 of 2 days holds no data: {fresh}.\n"
    )
    assert f"    {before} at raw_attempts: " in digest and "its earlier load stays" in digest
    assert stored_answer(raw_dir(env) / f"{before}.json.zst") == kept_answer
    assert not (raw_dir(env) / f"{fresh}.json.zst").exists()
    assert day_counts(database_dsn, before) == kept_counts
    assert day_counts(database_dsn, fresh) == dict.fromkeys(kept_counts, 0)

    recovered = run(production(), str(before), str(fresh), run_config=refetch)
    assert recovered.success
    assert stored_answer(raw_dir(env) / f"{before}.json.zst") == simulated(before, 45)
    assert day_counts(database_dsn, fresh)["solutions"] > 0
    assert stored_metrics(database_dsn) == notebook_metrics(database_dsn)


def test_a_hanging_api_fails_quickly_with_small_timeouts_saying_it_did_not_answer(
    env: dict[str, str],
    api: FakeStatisticsApi,
    database_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api.fail_next(Hang(30), Hang(30))
    monkeypatch.setenv("ITRESUME_READ_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("ITRESUME_RETRIES", "1")
    outcome = run(production(), select=LOADING)

    assert not outcome.success
    message = outcome.message()
    assert f"did not answer for {D} within the 2s connect / 0.5s read timeout (2 tries)" in message
    assert outcome.seconds < 10
    assert any("statistics API: ReadTimeoutError; retrying" in line for line in outcome.log)
    assert day_counts(database_dsn, DAY)["solutions"] == 0


def test_the_default_api_settings_give_up_on_a_silent_api_within_five_minutes() -> None:
    api = ItresumeStatisticsApi(client="acme", client_key="k")
    tries = api.retries + 1
    waits = [
        max(min(api.backoff_seconds * 2**n, api.backoff_max_seconds), api.retry_after_max_seconds)
        for n in range(1, tries)
    ]
    worst = tries * (api.connect_timeout_seconds + api.read_timeout_seconds) + sum(waits)
    assert (api.connect_timeout_seconds, api.read_timeout_seconds, api.retries) == (10, 75, 2)
    assert worst < 300


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_fails_at_once_without_retries_or_the_key(
    env: dict[str, str], api: FakeStatisticsApi, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    wrong = "sk-live-WRONG-7f3a9e"
    if status == 401:
        monkeypatch.setenv("ITRESUME_CLIENT_KEY", wrong)  # the fake answers 401 to a wrong key
    else:
        api.fail_next(Reply(403, b'{"errors": "client disabled"}'))

    outcome = run(production())

    assert not outcome.success
    assert len(api.requests) == 1
    message = outcome.message()
    assert f"refused the client key (HTTP {status}); check ITRESUME_CLIENT and " in message
    everything = outcome.errors() + "\n".join(outcome.log)
    assert wrong not in everything and KEY not in everything
