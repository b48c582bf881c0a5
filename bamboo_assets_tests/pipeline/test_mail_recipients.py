"""The digest reaches every recipient: the SMTP envelope (RCPT TO), not only the To header."""

from __future__ import annotations

from collections.abc import Callable

from bamboo_assets_tests.servers import SmtpEnvelope, SmtpServer
from bamboo_assets_tests.support.bamboo import Bamboo
from bamboo_assets_tests.support.mail import server_env

RECIPIENTS = ["lead@example.org", "ops@example.org", "analyst@example.net"]


def test_the_digest_is_delivered_to_every_recipient_in_digest_recipients(
    local: Callable[..., Bamboo],
) -> None:
    with SmtpServer() as smtp:
        bamboo = local(
            BAMBOO_SIMULATED_RECORDS_PER_DAY="20",
            **server_env(
                smtp, recipients=" lead@example.org,ops@example.org ,  analyst@example.net"
            ),
        )
        result = bamboo.run("2025-03-05")
        envelopes, messages = smtp.envelopes, smtp.messages

    assert result.success
    assert envelopes == [SmtpEnvelope("etl@example.org", RECIPIENTS)]
    (message,) = messages
    assert message["To"] == ", ".join(RECIPIENTS)
