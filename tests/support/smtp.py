"""A real SMTP server on a local socket (aiosmtpd): plain, STARTTLS or implicit TLS, with a password."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.live import free_port

USER, PASSWORD = "qualifica", "s3nha-do-smtp-de-teste"


@dataclass
class Inbox:
    """What the server accepted, in order."""

    received: list[EmailMessage] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.senders.append(str(envelope.mail_from))
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for message in self.received]


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Trusts this certificate only, with hostname checks on: what production verification does."""
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(directory: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(directory / "smtp-cert.pem", directory / "smtp-key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@contextmanager
def smtp_server(
    inbox: Inbox,
    *,
    port: int | None = None,
    starttls: Certificate | None = None,
    implicit_tls: Certificate | None = None,
) -> Iterator[int]:
    """Serve on 127.0.0.1 until the block ends; yields the port. With TLS, logins are required and only
    accepted over TLS (STARTTLS is then required before anything else)."""
    port = port or free_port()
    server_kwargs: dict[str, Any] = {}
    if starttls is not None:
        server_kwargs |= {"tls_context": starttls.server_context(), "require_starttls": True}
    if starttls is not None or implicit_tls is not None:
        # aiosmtpd only counts a STARTTLS upgrade as TLS; over implicit TLS every byte is encrypted anyway.
        server_kwargs |= {
            "authenticator": _authenticate,
            "auth_required": True,
            "auth_require_tls": implicit_tls is None,
        }
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        ssl_context=implicit_tls.server_context() if implicit_tls is not None else None,
        server_hostname="127.0.0.1",
        **server_kwargs,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
