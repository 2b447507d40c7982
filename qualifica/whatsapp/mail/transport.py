"""Where a mail goes: an SMTP server (``QUALIFICA_SMTP_URL``), else ``.eml`` files for development and demo.

SMTP runs through ``aiosmtplib``: ``smtps://`` is TLS from the first byte (port 465), ``smtp://…?starttls=true``
upgrades the connection before authenticating and refuses a server that cannot, plain ``smtp://`` is for a
relay on the same host. Certificates are verified against the system's store (``tls_context`` for tests).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from qualifica.config import Settings
from qualifica.db import utcnow
from qualifica.whatsapp.mail.render import Mail

TIMEOUT_SECONDS = 20.0


class MailSink(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Raises when the mail was not accepted (it is retried later)."""


def compose(mail: Mail, *, sender: str, recipient: str, message_key: str) -> EmailMessage:
    """Text first, HTML as the alternative. The Message-ID is derived from the outbox row, so a mail
    re-sent after a crash between the server's "250" and our record carries the same id (clients fold it)."""
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(utcnow())
    domain = sender.rsplit("@", 1)[-1].rstrip(">").strip() or "qualifica.local"
    message["Message-ID"] = f"<{message_key}@{domain}>"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


@dataclass(frozen=True)
class SmtpSink:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool
    tls_context: ssl.SSLContext | None = None
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_url(cls, url: str, *, tls_context: ssl.SSLContext | None = None) -> SmtpSink:
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        starttls = not implicit and query.get("starttls", ["false"])[0].lower() in {"true", "1", "yes"}
        return cls(
            hostname=parts.hostname or "localhost",
            port=parts.port or (465 if implicit else 587 if starttls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit,
            start_tls=starttls,
            tls_context=tls_context,
        )

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            tls_context=self.tls_context,
            timeout=self.timeout,
        )


@dataclass(frozen=True)
class FileSink:
    """One ``.eml`` per mail, written whole (temporary name, then renamed) so a reader never sees half."""

    directory: Path

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        key = str(message["Message-ID"] or make_msgid()).strip("<>").split("@", 1)[0]
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        final = self.directory / f"{stamp}-{key}.eml"
        partial = final.with_suffix(".eml.part")
        partial.write_bytes(message.as_bytes())
        os.replace(partial, final)


def sink_for(settings: Settings) -> MailSink:
    if settings.smtp_url is not None:
        return SmtpSink.from_url(settings.smtp_url.get_secret_value().strip())
    return FileSink(settings.mail_dir)
