"""The digest reaches every recipient: the SMTP envelope (RCPT TO), not only the To header."""

from __future__ import annotations

from pathlib import Path

from bamboo_assets.settings import load_settings, mailer
from bamboo_assets_tests.helpers import local_resources, materialize_days
from bamboo_assets_tests.servers import SmtpServer
from bamboo_assets_tests.servers.smtp import SmtpEnvelope

RECIPIENTS = ["lead@example.org", "ops@example.org", "analyst@example.net"]


def test_the_digest_is_delivered_to_every_recipient_in_digest_recipients(
    bamboo_home: Path, warehouse
) -> None:
    with SmtpServer() as smtp:
        env = {
            "BAMBOO_HOME": str(bamboo_home),
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_SECURITY": "none",
            "DIGEST_SENDER": "etl@example.org",
            "DIGEST_RECIPIENTS": " lead@example.org,ops@example.org ,  analyst@example.net",
        }
        resources = local_resources(bamboo_home, warehouse, records_per_day=20)
        resources["mailer"] = mailer(env, load_settings(env))
        result = materialize_days("2025-03-05", "2025-03-05", resources)
        envelopes, messages = smtp.envelopes, smtp.messages

    assert result.success
    assert envelopes == [SmtpEnvelope("etl@example.org", RECIPIENTS)]
    (message,) = messages
    assert message["To"] == ", ".join(RECIPIENTS)
