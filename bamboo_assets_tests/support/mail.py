"""Mail in tests: the variables that point Bamboo at an SMTP server, and a mailer that waits
milliseconds between tries instead of seconds."""

from __future__ import annotations

from bamboo_assets_tests.servers import SmtpServer
from bamboo_assets_tests.support.bamboo import Bamboo, resource_with


def smtp_env(
    port: int,
    security: str = "none",
    *,
    host: str = "127.0.0.1",
    user: str | None = None,
    password: str | None = None,
    ca_file: str | None = None,
    recipients: str = "lead@example.org",
) -> dict[str, str]:
    """What a deployment sets for an SMTP server (SMTP_*, DIGEST_*)."""
    env = {
        "SMTP_HOST": host,
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": security,
        "DIGEST_SENDER": "etl@example.org",
        "DIGEST_RECIPIENTS": recipients,
    }
    if user is not None:
        env |= {"SMTP_USER": user, "SMTP_PASSWORD": password or ""}
    if ca_file:
        env["SMTP_CA_FILE"] = ca_file
    return env


def server_env(smtp: SmtpServer, **kwargs: str) -> dict[str, str]:
    """smtp_env for a running test server, with its security and CA file."""
    return smtp_env(smtp.port, smtp.security, host=smtp.host, ca_file=smtp.ca_file, **kwargs)


def quick_mailer(bamboo: Bamboo) -> Bamboo:
    """`bamboo` with its SMTP mailer trying again after 10 ms (not 5 s), 5 s per try at most."""
    mailer = resource_with(bamboo.resource("mailer"), backoff_seconds=0.01, timeout_seconds=5)
    return bamboo.with_resources(mailer=mailer)
