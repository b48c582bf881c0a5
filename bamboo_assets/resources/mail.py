"""Sending the digest and failure alerts: an SMTP server, or `.eml` files in an outbox folder."""

from __future__ import annotations

import smtplib
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Literal

import dagster as dg


class MailError(RuntimeError):
    """A message could not be delivered; the message never contains the password."""


class Mailer(dg.ConfigurableResource, ABC):
    """Sends messages (plain text, optionally with an HTML alternative) from `sender` to every
    address in `recipients`."""

    sender: str
    recipients: str  # comma-separated
    sender_name: str = "Bamboo"

    def compose(self, subject: str, body: str, html: str | None = None) -> EmailMessage:
        """Plain text, and with `html` a multipart/alternative with that HTML part too."""
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = formataddr((self.sender_name, self.sender))
        message["To"] = ", ".join(self.recipient_list())
        message["Date"] = datetime.now(UTC)
        message["Message-ID"] = make_msgid(domain="bamboo.local")
        message.set_content(body)
        if html is not None:
            message.add_alternative(html, subtype="html")
        return message

    def recipient_list(self) -> list[str]:
        return [address.strip() for address in self.recipients.split(",") if address.strip()]

    def send(
        self,
        subject: str,
        body: str,
        log: Callable[[str], None] | None = None,
        html: str | None = None,
    ) -> str:
        """Deliver `body` (and `html` as its alternative); returns where it went."""
        return self.deliver(self.compose(subject, body, html), log)

    @abstractmethod
    def deliver(self, message: EmailMessage, log: Callable[[str], None] | None) -> str:
        """Deliver a composed message; returns where it went (for logs and metadata)."""


class OutboxMailer(Mailer):
    """Writes each message as an `.eml` file: the mailer when no SMTP server is set."""

    directory: str

    def deliver(self, message: EmailMessage, log: Callable[[str], None] | None) -> str:
        outbox = Path(self.directory)
        outbox.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = outbox / f"{stamp}.eml"
        path.write_bytes(bytes(message))
        return str(path)


class SmtpMailer(Mailer):
    """An SMTP server: implicit TLS (`ssl`), `starttls` or plain (`none`), login optional.

    Delivery is tried `attempts` times with doubling waits, so a short outage does not lose
    a digest; every failed try is reported to the run log.
    """

    host: str
    port: int = 465
    security: Literal["ssl", "starttls", "none"] = "ssl"
    user: str | None = None
    password: str | None = None
    ca_file: str | None = None
    timeout_seconds: float = 30.0
    attempts: int = 3
    backoff_seconds: float = 5.0

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout_seconds, context=context
            )
        server = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
        if self.security == "starttls":
            server.starttls(context=context)
        return server

    def _deliver_once(self, message: EmailMessage) -> None:
        with self._connect() as server:
            if self.user:
                server.login(self.user, self.password or "")
            server.send_message(message)

    def deliver(self, message: EmailMessage, log: Callable[[str], None] | None) -> str:
        where = f"SMTP {self.host}:{self.port} ({self.security})"
        attempt = 0
        while True:
            attempt += 1
            try:
                self._deliver_once(message)
                return f"{where} to {message['To']}"
            except smtplib.SMTPAuthenticationError as error:
                # A refused login will not get better by retrying.
                raise MailError(
                    f"{where} refused the login for user {self.user!r} (SMTP {error.smtp_code}); "
                    "check SMTP_USER and SMTP_PASSWORD"
                ) from None
            except (OSError, smtplib.SMTPException) as error:
                failure = f"{where}: {type(error).__name__} on try {attempt} of {self.attempts}"
                if attempt >= self.attempts:
                    raise MailError(failure) from None
                if log:
                    log(failure)
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
