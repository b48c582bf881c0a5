"""The fake SMTP server behaves like a real one where the other tests rely on it: every security
mode, authentication, STARTTLS before AUTH, and a self-signed certificate, driven with smtplib.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage

import pytest

from bamboo_assets_tests.servers import SmtpEnvelope, SmtpServer, closed_port


def _digest() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "bamboo@example.org"
    message["To"] = "team@example.org"
    message["Subject"] = "Сводка за день"
    message.set_content("Всё хорошо\n")
    return message


def _connect(server: SmtpServer, context: ssl.SSLContext | None) -> smtplib.SMTP:
    if server.security == "ssl":
        return smtplib.SMTP_SSL(server.host, server.port, context=context, timeout=5)
    smtp = smtplib.SMTP(server.host, server.port, timeout=5)
    if server.security == "starttls":
        smtp.starttls(context=context)
    return smtp


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_smtp_delivers_in_every_security_mode(security: str) -> None:
    with SmtpServer(security, user="digest", password="s3cret") as server:  # type: ignore[arg-type]
        context = None
        if security != "none":
            assert server.ca_file is not None
            context = ssl.create_default_context(cafile=server.ca_file)  # verifies 127.0.0.1
        else:
            assert server.ca_file is None
        with _connect(server, context) as smtp:
            assert isinstance(smtp.sock, ssl.SSLSocket) == (security != "none")
            smtp.login("digest", "s3cret")
            smtp.send_message(_digest())

        [received] = server.messages
        assert received["Subject"] == "Сводка за день"
        assert received.get_content() == "Всё хорошо\n"
        assert server.envelopes == [SmtpEnvelope("bamboo@example.org", ["team@example.org"])]
        assert server.authenticated_users == ["digest"]


def test_smtp_rejects_wrong_password_and_unauthenticated_mail() -> None:
    with SmtpServer("none", user="digest", password="s3cret") as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as smtp:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                smtp.login("digest", "wrong")
            with pytest.raises(smtplib.SMTPSenderRefused):
                smtp.send_message(_digest())
        assert server.messages == []
        assert server.authenticated_users == []


def test_smtp_starttls_is_required_and_certificate_is_self_signed() -> None:
    with SmtpServer("starttls", user="digest", password="s3cret") as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as smtp:
            smtp.ehlo()
            assert not smtp.has_extn("auth")  # AUTH is offered only after STARTTLS
            with pytest.raises(smtplib.SMTPSenderRefused):  # and mail needs STARTTLS first
                smtp.send_message(_digest())
        with (
            smtplib.SMTP(server.host, server.port, timeout=5) as smtp,
            pytest.raises(ssl.SSLCertVerificationError),  # not trusted without ca_file
        ):
            smtp.starttls(context=ssl.create_default_context())
        assert server.messages == []


def test_closed_port_refuses_connections() -> None:
    port = closed_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", port, timeout=1)
