"""Mail: an SMTP server that is down or refuses the login."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from bamboo_assets.resources.mail import SmtpMailer
from bamboo_assets_tests.failures.runs import DATA_ASSETS, production, run
from bamboo_assets_tests.faults import failure_message, materialized, step_errors
from bamboo_assets_tests.servers import SmtpServer, closed_port


def smtp_mailer(password_variable: str = "SMTP_PASSWORD") -> SmtpMailer:
    """The mailer from the environment, with a 10 ms backoff."""
    return SmtpMailer(
        host=os.environ["SMTP_HOST"],
        port=int(os.environ["SMTP_PORT"]),
        security=os.environ["SMTP_SECURITY"],  # type: ignore[arg-type]
        user=os.environ["SMTP_USER"],
        password=dg.EnvVar(password_variable),
        ca_file=os.environ.get("SMTP_CA_FILE"),
        sender=os.environ["DIGEST_SENDER"],
        recipients=os.environ["DIGEST_RECIPIENTS"],
        backoff_seconds=0.01,
        timeout_seconds=5,
    )


def use_smtp(
    monkeypatch: pytest.MonkeyPatch, port: int, security: str, ca_file: str | None
) -> None:
    values = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": security,
        "SMTP_USER": "bamboo",
        "SMTP_PASSWORD": "smtp-pw-51d0b3",
        "DIGEST_SENDER": "etl@example.org",
        "DIGEST_RECIPIENTS": "lead@example.org",
    }
    if ca_file:
        values["SMTP_CA_FILE"] = ca_file
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_an_smtp_server_that_is_down_fails_only_the_digest_after_logged_retries(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    use_smtp(monkeypatch, port, "none", None)
    resources = production()
    resources["mailer"] = smtp_mailer()

    outcome = run(resources)

    assert not outcome.success
    assert materialized(outcome.result) == DATA_ASSETS
    assert set(step_errors(outcome.result)) == {"digest_email"}
    where = f"SMTP 127.0.0.1:{port} (none)"
    assert f"MailError: {where}: ConnectionRefusedError on try 3 of 3" in failure_message(
        outcome.result, "digest_email"
    )
    assert [line for line in outcome.log if line.startswith(where)] == [
        f"{where}: ConnectionRefusedError on try 1 of 3",
        f"{where}: ConnectionRefusedError on try 2 of 3",
    ]
    assert "smtp-pw-51d0b3" not in outcome.errors() + "\n".join(outcome.log)


def test_a_refused_smtp_login_fails_only_the_digest_at_once_without_the_password(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with SmtpServer(security="starttls", user="bamboo", password="the-right-one") as smtp:
        use_smtp(monkeypatch, smtp.port, "starttls", smtp.ca_file)
        resources = production()
        resources["mailer"] = smtp_mailer()
        outcome = run(resources)
        assert smtp.messages == []

    assert not outcome.success
    assert materialized(outcome.result) == DATA_ASSETS
    message = failure_message(outcome.result, "digest_email")
    assert (
        f"SMTP 127.0.0.1:{smtp.port} (starttls) refused the login for user 'bamboo' (SMTP 535); "
        "check SMTP_USER and SMTP_PASSWORD"
    ) in message
    assert not [line for line in outcome.log if " on try " in line]
    assert "smtp-pw-51d0b3" not in outcome.errors() + "\n".join(outcome.log)
