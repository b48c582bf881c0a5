"""The digest people read, sent through a real SMTP server after real Dagster runs: each day's
metrics against a week earlier, the rejected share, checks that did not pass, the counts; and
a digest that could not be sent, sent by the UI's recovery."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage

import pytest

from bamboo_assets.core.digest import DayLoad, Refetched, digest
from bamboo_assets.core.ledger import DayFailure
from bamboo_assets.core.metrics import DayMetrics
from bamboo_assets.core.simulator import simulated_answer
from bamboo_assets_tests.servers import FakeStatisticsApi, SmtpServer, closed_port
from bamboo_assets_tests.support.bamboo import LINEAGE, Bamboo, query
from bamboo_assets_tests.support.faults import failure_message
from bamboo_assets_tests.support.mail import quick_mailer, server_env, smtp_env

KEY = "digest-key"
PASSWORD = "digest-smtp-pw-7c21"
BAD_DAY = "2025-03-08"  # a Saturday; a week earlier is 2025-03-01


def answer(params: dict[str, str]) -> bytes:
    """The simulated API's day; on BAD_DAY a tenth of the records lack their learner."""
    day = params["start"][:10]
    records = json.loads(b"".join(simulated_answer(date.fromisoformat(day), 120)))
    if day == BAD_DAY:
        for record in records[::10]:
            record["lti_user_id"] = None
    return json.dumps(records).encode()


@pytest.fixture
def servers() -> Iterator[tuple[FakeStatisticsApi, SmtpServer]]:
    with (
        FakeStatisticsApi(answer, client_key=KEY) as api,
        SmtpServer("starttls", user="bamboo", password=PASSWORD) as smtp,
    ):
        yield api, smtp


@pytest.fixture
def bamboo(servers, configure) -> Bamboo:
    api, smtp = servers
    return configure(
        ITRESUME_URL=api.url,
        ITRESUME_CLIENT_KEY=KEY,
        **server_env(smtp, user="bamboo", password=PASSWORD),
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def metrics_of(dsn: str, day: str) -> tuple[int, int, int, int]:
    return query(
        dsn,
        "SELECT attempts_per_day_total, correct_attempts_per_day, unique_users_per_day,"
        " new_users_per_day FROM public.daily_metrics WHERE study_date = %s",
        (day,),
    )[0]


def test_a_days_digest_gives_its_metrics_against_a_week_earlier_and_the_failed_checks(
    servers, bamboo: Bamboo, database_dsn: str
) -> None:
    _, smtp = servers
    assert bamboo.run("2025-03-01", "2025-03-07").success
    assert bamboo.run(BAD_DAY).success
    range_message, day_message = smtp.messages

    text, html = parts(day_message)
    assert day_message["Subject"] == f"Bamboo digest: {BAD_DAY}"
    now, before = metrics_of(database_dsn, BAD_DAY), metrics_of(database_dsn, "2025-03-01")
    labels = ("Attempts", "Correct attempts", "Active learners", "New learners")
    for label, value, earlier in zip(labels, now, before, strict=True):
        delta = value - earlier
        shown = f"{value:,}  {delta:+,} ({delta / earlier:+.1%})"
        assert re.search(rf"^    {label}: +{re.escape(shown)}$", text, re.M), (label, text)
        assert "<td" in html and f"{delta:+,} ({delta / earlier:+.1%})" in html
    [(extracted, rejected)] = query(
        database_dsn, "SELECT extracted, rejected FROM bamboo.day_loads WHERE day = %s", (BAD_DAY,)
    )
    share = f"{rejected / extracted:.1%} ({rejected:,} of {extracted:,})"
    assert re.search(rf"^    Rejected share: +{re.escape(share)}$", text, re.M) and share in html
    assert re.search(
        r"^    rejected_share_below_threshold on validated_attempts \(warn\): ", text, re.M
    )
    assert "rejected_share_below_threshold" in html
    assert f"Rows extracted by API: {extracted}" in text
    assert "<img" not in html and PASSWORD not in day_message.as_string()

    # The range: one line per day, and "n/a" where no day a week earlier was loaded.
    text, html = parts(range_message)
    assert range_message["Subject"] == "Bamboo digest: 2025-03-01 to 2025-03-07 (7 days)"
    table = text[text.index("Per day") :].splitlines()[1:9]
    assert table[0].split() == [
        "day", "Attempts", "Correct", "attempts", "Active", "learners", "New", "learners",
        "Rejected", "share",
    ]  # fmt: skip
    for line, day in zip(table[1:], range(1, 8), strict=True):
        attempts = metrics_of(database_dsn, f"2025-03-0{day}")[0]
        assert line.split()[:3] == [f"2025-03-0{day}", f"{attempts:,}", "n/a"]
    assert "Checks that did not pass: none" in text and "<p>none</p>" in html
    assert html.count("<tr>") >= 8


FAILED = "statistics API answered HTTP 503 after 3 tries"


def test_failed_days_and_late_records_given_by_other_steps_are_reported() -> None:
    loads = [DayLoad("2025-03-02", 100, 95, 5, 0, 95, 95)]
    metrics = [DayMetrics("2025-03-02", 95, 40, 10, 2), DayMetrics("2025-02-23", 0, 0, 0, 0)]
    message = digest(
        ["2025-03-01", "2025-03-02"],
        loads,
        metrics,
        [],
        "https://docs.google.com/spreadsheets/d/x",
        failed_days=[DayFailure(date(2025, 3, 1), "raw_attempts", FAILED)],
        refetched=[Refetched("2025-03-02", 7, 2)],
    )
    # The failed day holds no data at all: said in the subject and first.
    assert message.subject == "Bamboo digest: 2025-03-01 to 2025-03-02 (2 days), 1 not loaded"
    assert message.text.startswith("Not loaded: 1 of 2 days holds no data: 2025-03-01.\n")
    assert (
        "    2025-03-01 at raw_attempts: statistics API answered HTTP 503 after 3 tries"
        in message.text
    )
    assert "statistics API answered HTTP 503 after 3 tries" in message.html
    assert "    2025-03-02: 7 new / 2 no longer returned" in message.text
    assert "<td" in message.html and ">7</td>" in message.html
    line = next(row for row in message.text.splitlines() if row.startswith("    2025-03-02"))
    assert line.split()[1:3] == ["95", "+95"]  # a week earlier had no attempts: no percentage
    assert "n/a" in line
    assert "Rows extracted by API: 100" in message.text


def test_a_digest_the_smtp_server_refused_is_sent_by_materializing_its_failed_days(
    configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mail failing fails the digest for every day of the run, and only it: the data is
    loaded and shown. "Failed and missing" then selects the digest's days alone, and sends it."""
    first, last = "2025-03-01", "2025-03-03"
    days = ["2025-03-01", "2025-03-02", "2025-03-03"]
    down = quick_mailer(configure(**smtp_env(closed_port())))

    failed = down.run(first, last)

    assert not failed.success
    assert "digest_email failed for every day it had to do: SMTP " in failure_message(
        failed, "bamboo_pipeline"
    )
    after_failure = down.partition_view()

    with SmtpServer() as smtp:  # the mail server is back
        up = down.reconfigured(monkeypatch, **server_env(smtp))
        recovery = up.run(first, last, select=["digest_email"])
        messages = smtp.messages

    assert recovery.success
    (message,) = messages
    assert message["Subject"] == f"Bamboo digest: {first} to {last} (3 days)"
    # What the UI showed after the failure, so that "Failed and missing" chose the digest alone.
    assert after_failure == {name: {"materialized": days, "failed": []} for name in LINEAGE[:5]} | {
        "digest_email": {"materialized": [], "failed": days}
    }
    assert up.partition_view() == {name: {"materialized": days, "failed": []} for name in LINEAGE}
