"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the digest e-mail tests.

Why real: smtplib's STARTTLS and implicit-TLS handshakes, certificate checks and AUTH
exchanges are what breaks in production; only a real server exercises them.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import shutil
import socket
import ssl
import tempfile
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, NamedTuple, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bamboo_assets_tests.servers._lifetime import BoundedLifetime

Security = Literal["none", "starttls", "ssl"]
HOST = "127.0.0.1"


class SmtpEnvelope(NamedTuple):
    """SMTP envelope of one accepted message (what MAIL FROM / RCPT TO said)."""

    mail_from: str
    rcpt_tos: list[str]


def closed_port() -> int:
    """A local port with nothing listening, for "SMTP server down" tests.

    The port was free a moment ago; another process could grab it, but the window is tiny.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class _BoundController(Controller):
    """Controller serving on a socket bound beforehand.

    aiosmtpd's Controller cannot use port 0: it connects to `self.port` to check startup,
    so we bind first and hand the socket to asyncio.
    """

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        super().__init__(handler, hostname=HOST, port=sock.getsockname()[1], **kwargs)

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class _Handler:
    """aiosmtpd handler: hands every accepted message to the owning SmtpServer."""

    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """Refuse MAIL before AUTH when a login is configured.

        Done here rather than with aiosmtpd's auth_required, which (with auth_require_tls
        off, needed for "none" and implicit TLS) warns on every connection.
        """
        if self._owner._login_required and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content or b"")
        self._owner._received(envelope.mail_from or "", list(envelope.rcpt_tos), data)
        return "250 Message accepted for delivery"


class SmtpServer(BoundedLifetime):
    """SMTP on 127.0.0.1 in plain, STARTTLS or implicit-TLS mode, optionally with AUTH.

    With `user`/`password`, AUTH (LOGIN or PLAIN) is required before MAIL and only that
    pair is accepted. In "starttls" mode, STARTTLS is required before anything else, as
    on a real submission server. TLS uses a fresh self-signed certificate for localhost and
    127.0.0.1; trust it through `ca_file`. Stops itself after `max_lifetime_seconds`.
    """

    host = HOST

    def __init__(
        self,
        security: Security = "none",
        user: str | None = None,
        password: str | None = None,
        *,
        max_lifetime_seconds: float = 600.0,
    ) -> None:
        if security not in ("none", "starttls", "ssl"):
            raise ValueError(f"security must be none, starttls or ssl, not {security!r}")
        if (user is None) != (password is None):
            raise ValueError("give both user and password, or neither")
        self.security: Security = security
        self._user = user
        self._password = password
        self._login_required = user is not None
        super().__init__(max_lifetime_seconds)
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []
        self._envelopes: list[SmtpEnvelope] = []
        self._authenticated_users: list[str] = []
        self._controller: _BoundController | None = None
        self._port: int | None = None
        self._directory: Path | None = None
        self._ca_file: Path | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        with self._lifecycle_lock:
            if self._controller is not None or self._port is not None:
                raise RuntimeError("SmtpServer can be started only once")
            kwargs: dict[str, Any] = {
                "server_hostname": "localhost",  # skips socket.getfqdn(), which can stall on DNS
                "timeout": 30,  # a silent client cannot hold the server forever
                # aiosmtpd does not count implicit TLS as TLS, so only STARTTLS mode can hide
                # AUTH until the handshake (as Postfix's smtpd_tls_auth_only does).
                "auth_require_tls": self.security == "starttls",
            }
            if self.security != "none":
                self._directory = Path(tempfile.mkdtemp(prefix="bamboo-smtp-"))
                context = self._tls_context(self._directory)
                if self.security == "ssl":
                    kwargs["ssl_context"] = context
                else:
                    kwargs.update(tls_context=context, require_starttls=True)
            if self._user is not None:
                kwargs["authenticator"] = self._authenticate
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((HOST, 0))
                self._port = sock.getsockname()[1]
                controller = _BoundController(_Handler(self), sock, **kwargs)
                controller.start()
            except BaseException:
                sock.close()
                self._remove_directory()
                raise
            self._controller = controller
            self._start_watchdog()
        return self

    def stop(self) -> None:
        """Stop the server and delete the certificate files; safe to call twice."""
        with self._lifecycle_lock:
            controller, self._controller = self._controller, None
        if controller is None:
            return
        self._cancel_watchdog()
        try:
            controller.stop()
        finally:
            self._remove_directory()

    def _remove_directory(self) -> None:
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)

    # -- public API --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SmtpServer is not started; use it as a context manager")
        return self._port

    @property
    def ca_file(self) -> str | None:
        """PEM of the server's self-signed certificate, usable as `cafile=`; None without TLS."""
        return None if self._ca_file is None else str(self._ca_file)

    @property
    def messages(self) -> list[EmailMessage]:
        """Accepted messages, parsed with email.policy.default, in arrival order."""
        with self._lock:
            return list(self._messages)

    @property
    def envelopes(self) -> list[SmtpEnvelope]:
        with self._lock:
            return list(self._envelopes)

    @property
    def authenticated_users(self) -> list[str]:
        """User name of every successful AUTH, to prove the client logged in."""
        with self._lock:
            return list(self._authenticated_users)

    # -- internals ---------------------------------------------------------------------------

    def _received(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> None:
        # SMTP carries CRLF line ends; store with LF, as a mailbox would, so bodies compare
        # equal to what the sender put in.
        message = email.message_from_bytes(
            data.replace(b"\r\n", b"\n"), policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)  # guaranteed by policy.default
        with self._lock:
            self._messages.append(message)
            self._envelopes.append(SmtpEnvelope(mail_from, rcpt_tos))

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """aiosmtpd authenticator: only LOGIN/PLAIN with exactly the configured pair."""
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        assert self._user is not None and self._password is not None
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        if (login, password) != (self._user, self._password):
            return AuthResult(success=False, handled=False)
        with self._lock:
            self._authenticated_users.append(login)
        return AuthResult(success=True)

    def _tls_context(self, directory: Path) -> ssl.SSLContext:
        """Server context with a new self-signed cert valid for localhost and 127.0.0.1."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = dt.datetime.now(dt.UTC)
        public_key = key.public_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
                ),
                critical=False,
            )
            # CA:TRUE lets the same PEM act as the trust anchor (cafile=) for itself.
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        cert_file = directory / "cert.pem"
        key_file = directory / "key.pem"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._ca_file = cert_file
        return context
