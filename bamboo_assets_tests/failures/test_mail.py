"""Mail: an SMTP server that is down or refuses the login."""

from __future__ import annotations

import pytest

from bamboo_assets_tests.failures.runs import DATA_ASSETS, production, run
from bamboo_assets_tests.servers import SmtpServer, closed_port
from bamboo_assets_tests.support.faults import materialized
from bamboo_assets_tests.support.mail import quick_mailer, server_env, smtp_env

PASSWORD = "smtp-pw-51d0b3"


def use_smtp(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_an_smtp_server_that_is_down_fails_only_the_digest_after_logged_retries(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    use_smtp(monkeypatch, smtp_env(port, "none", user="bamboo", password=PASSWORD))

    outcome = run(quick_mailer(production()))

    assert not outcome.success
    where = f"SMTP 127.0.0.1:{port} (none)"
    assert outcome.message().startswith(
        "dagster._core.definitions.events.Failure: digest_email failed for every day it had to "
        f"do: {where}: ConnectionRefusedError on try 3 of 3. Once the cause is fixed, backfill "
        "the failed and missing partitions"
    )
    assert f"MailError: {where}: ConnectionRefusedError on try 3 of 3" in outcome.errors()
    assert [line for line in outcome.log if line.startswith(where)] == [
        f"{where}: ConnectionRefusedError on try 1 of 3",
        f"{where}: ConnectionRefusedError on try 2 of 3",
    ]
    assert PASSWORD not in outcome.errors() + "\n".join(outcome.log)
    # The mail is the last step: the data it reports on is loaded and shown.
    assert materialized(outcome.result) == DATA_ASSETS


def test_a_refused_smtp_login_fails_only_the_digest_at_once_without_the_password(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with SmtpServer(security="starttls", user="bamboo", password="the-right-one") as smtp:
        use_smtp(monkeypatch, server_env(smtp, user="bamboo", password=PASSWORD))
        outcome = run(quick_mailer(production()))
        assert smtp.messages == []

    assert not outcome.success
    assert (
        f"digest_email failed for every day it had to do: SMTP 127.0.0.1:{smtp.port} (starttls) "
        "refused the login for user 'bamboo' (SMTP 535); check SMTP_USER and SMTP_PASSWORD"
    ) in outcome.message()
    assert not [line for line in outcome.log if " on try " in line]
    assert PASSWORD not in outcome.errors() + "\n".join(outcome.log)
    assert materialized(outcome.result) == DATA_ASSETS
