"""Mails reach a real SMTP server over a socket (aiosmtpd): once each, through STARTTLS or implicit TLS,
retried while the server is down, and never with the SMTP password in a log or a row."""

from __future__ import annotations

import logging
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role
from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.runtime import Runtime
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp.connection_state import mark_active
from qualifica.whatsapp.health_check import run_due_health_checks
from qualifica.whatsapp.mail.delivery import RETRY, deliver_mail
from qualifica.whatsapp.mail.models import MailOutbox, MailStatus
from qualifica.whatsapp.mail.transport import SmtpSink
from qualifica.whatsapp.models import WhatsAppConnection
from tests.support.connections import connect_with_sandbox, make_connection
from tests.support.factories import make_org, make_user
from tests.support.live import free_port
from tests.support.logs import production_logs
from tests.support.smtp import PASSWORD, USER, Certificate, Inbox, self_signed, smtp_server
from tests.support.webhooks import account_entry, envelope, post_signed

WABA = "4000000000091"
DISCONNECTED = "Ação necessária: o WhatsApp da Imobiliária Aurora está desconectado"
RECONNECTED = "O WhatsApp da Imobiliária Aurora está conectado de novo"


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return self_signed(tmp_path)


def starttls_sink(port: int, certificate: Certificate, password: str = PASSWORD) -> SmtpSink:
    return SmtpSink.from_url(
        f"smtp://{USER}:{password}@127.0.0.1:{port}?starttls=true", tls_context=certificate.client_context()
    )


async def aurora(db: AsyncSession) -> Organization:
    organization = await make_org(db, "Imobiliária Aurora")
    await make_user(db, organization, role=Role.ADMIN, email="ana@aurora.example")
    await make_user(db, organization, role=Role.ADMIN, email="bia@aurora.example")
    await make_user(db, organization, role=Role.MEMBER, email="caio@aurora.example")
    await db.commit()
    return organization


async def rows(db: AsyncSession) -> list[MailOutbox]:
    db.expire_all()
    return list(await db.scalars(select(MailOutbox).order_by(MailOutbox.recipient)))


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


async def uninstall(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await post_signed(client, envelope(account_entry("PARTNER_APP_UNINSTALLED", WABA)))
    await process_webhooks(runtime)


async def fallen(client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, runtime: Runtime) -> None:
    """Aurora's connection, then Meta's PARTNER_APP_UNINSTALLED: one mail queued per admin."""
    await make_connection(db, app, waba_id=WABA, organization=await aurora(db))
    await uninstall(client, runtime)


class TestUninstalled:
    async def test_each_admin_gets_one_mail_over_starttls_and_a_redelivered_webhook_sends_none(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        app: FastAPI,
        runtime: Runtime,
        certificate: Certificate,
    ) -> None:
        organization = await aurora(db)
        await make_connection(db, app, waba_id=WABA, organization=organization)
        inbox = Inbox()
        with smtp_server(inbox, starttls=certificate) as port:
            sink = starttls_sink(port, certificate)
            await uninstall(client, runtime)
            assert await deliver_mail(runtime, sink=sink) == 2
            await uninstall(client, runtime)  # Meta delivers the same webhook again
            assert await deliver_mail(runtime, sink=sink) == 0

        assert sorted(str(m["To"]) for m in inbox.received) == ["ana@aurora.example", "bia@aurora.example"]
        message = inbox.received[0]
        assert message["Subject"] == DISCONNECTED
        assert message["From"] == runtime.settings.mail_from
        text, html = parts(message)
        link = f"{runtime.settings.base_url}/settings/whatsapp"
        assert link in text and f'href="{link}"' in html
        assert "Imobiliária Aurora" in text and "Imobiliária Aurora" in html
        assert "Reconectar" in text and "Reconectar" in html
        assert html.lstrip().lower().startswith("<!doctype html>") and 'lang="pt-BR"' in html
        assert [(row.status, row.attempts, row.error) for row in await rows(db)] == [
            (MailStatus.SENT, 1, None),
            (MailStatus.SENT, 1, None),
        ]
        assert all(row.sent_at is not None and row.lease_owner is None for row in await rows(db))


class TestOtherChanges:
    async def test_reconnecting_mails_connected_again(
        self, db: AsyncSession, app: FastAPI, runtime: Runtime, certificate: Certificate
    ) -> None:
        organization = await aurora(db)
        connection = await make_connection(db, app, waba_id=WABA, organization=organization)
        async with runtime.sessionmaker.begin() as session:
            row = await session.get(WhatsAppConnection, connection.id)
            assert row is not None
            row.status, row.error_code = row.status.ERROR, "token_invalid"
        async with runtime.sessionmaker.begin() as session:
            row = await session.get(WhatsAppConnection, connection.id)
            assert row is not None
            await mark_active(session, row, source="test")
        inbox = Inbox()
        with smtp_server(inbox, starttls=certificate) as port:
            assert await deliver_mail(runtime, sink=starttls_sink(port, certificate)) == 2
        assert inbox.subjects() == [RECONNECTED, RECONNECTED]

    async def test_an_expiring_token_mails_once_per_expiry_date_with_the_days_left(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime, certificate: Certificate
    ) -> None:
        sandbox.set_token_lifetime(3 * 86400)
        organization = await aurora(db)
        await connect_with_sandbox(db, app, sandbox, organization=organization)
        later = utcnow() + timedelta(seconds=runtime.settings.health_check_interval_seconds + 1)
        inbox = Inbox()
        with smtp_server(inbox, starttls=certificate) as port:
            sink = starttls_sink(port, certificate)
            await run_due_health_checks(runtime, now=later)
            assert await deliver_mail(runtime, sink=sink) == 2
            await run_due_health_checks(runtime, now=later + timedelta(days=1))
            assert await deliver_mail(runtime, sink=sink) == 0
        assert inbox.subjects() == ["A conexão do WhatsApp da Imobiliária Aurora expira em 3 dias"] * 2


class TestServerDown:
    async def test_mails_wait_while_the_server_is_down_and_go_once_when_it_is_back(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        app: FastAPI,
        runtime: Runtime,
        certificate: Certificate,
    ) -> None:
        await fallen(client, db, app, runtime)
        port = free_port()
        sink = starttls_sink(port, certificate)

        assert await deliver_mail(runtime, sink=sink) == 0  # nobody listens on the port
        first = await rows(db)
        failed = [row for row in first if row.attempts == 1]
        assert len(failed) == 1, "a failure ends the round: the other mail is not tried against a dead server"
        assert failed[0].status is MailStatus.PENDING and failed[0].error == "SMTPConnectError"
        assert failed[0].next_attempt_at is not None and failed[0].lease_owner is None
        # the failed one waits its backoff; the other one is tried, and fails
        assert await deliver_mail(runtime, sink=sink) == 0

        await db.execute(update(MailOutbox).values(next_attempt_at=None))  # the backoff has passed
        await db.commit()
        inbox = Inbox()
        with smtp_server(inbox, port=port, starttls=certificate):
            assert await deliver_mail(runtime, sink=sink) == 2
            assert await deliver_mail(runtime, sink=sink) == 0
        assert sorted(str(m["To"]) for m in inbox.received) == ["ana@aurora.example", "bia@aurora.example"]
        assert {row.status for row in await rows(db)} == {MailStatus.SENT}

    async def test_a_mail_out_of_attempts_is_left_failed_for_support(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        app: FastAPI,
        runtime: Runtime,
        certificate: Certificate,
    ) -> None:
        await fallen(client, db, app, runtime)
        await db.execute(update(MailOutbox).values(attempts=RETRY.max_attempts - 1))
        await db.commit()
        sink = starttls_sink(free_port(), certificate)
        for _ in range(2):
            await deliver_mail(runtime, sink=sink)
        assert [(row.status, row.attempts) for row in await rows(db)] == [
            (MailStatus.FAILED, RETRY.max_attempts),
            (MailStatus.FAILED, RETRY.max_attempts),
        ]
        assert await deliver_mail(runtime, sink=sink) == 0


class TestTls:
    async def test_implicit_tls_delivers(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        app: FastAPI,
        runtime: Runtime,
        certificate: Certificate,
    ) -> None:
        await fallen(client, db, app, runtime)
        inbox = Inbox()
        with smtp_server(inbox, implicit_tls=certificate) as port:
            sink = SmtpSink.from_url(
                f"smtps://{USER}:{PASSWORD}@127.0.0.1:{port}", tls_context=certificate.client_context()
            )
            assert await deliver_mail(runtime, sink=sink) == 2
        assert inbox.subjects() == [DISCONNECTED, DISCONNECTED]

    async def test_an_untrusted_certificate_sends_nothing_rather_than_fall_back_to_plain_text(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        app: FastAPI,
        runtime: Runtime,
        certificate: Certificate,
    ) -> None:
        await fallen(client, db, app, runtime)
        inbox = Inbox()
        with smtp_server(inbox, starttls=certificate) as port:
            # the system's store does not know the test certificate
            untrusted = SmtpSink.from_url(f"smtp://{USER}:{PASSWORD}@127.0.0.1:{port}?starttls=true")
            assert await deliver_mail(runtime, sink=untrusted) == 0
        assert inbox.received == []
        assert sorted(row.error or "" for row in await rows(db)) == ["", "SSLCertVerificationError"]

    async def test_a_refused_login_is_retried_and_the_password_is_never_logged(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        app: FastAPI,
        runtime: Runtime,
        certificate: Certificate,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        await fallen(client, db, app, runtime)
        inbox = Inbox()
        wrong = "senha-errada-que-nao-pode-vazar"
        logs = production_logs(caplog.handler)
        with logs, caplog.at_level(logging.DEBUG), smtp_server(inbox, starttls=certificate) as port:
            assert await deliver_mail(runtime, sink=starttls_sink(port, certificate, password=wrong)) == 0
        assert inbox.received == []
        refused = [row for row in await rows(db) if row.error]
        assert [(row.error, row.status) for row in refused] == [
            ("SMTPAuthenticationError", MailStatus.PENDING)
        ]
        assert "mail.not_sent" in caplog.text
        assert wrong not in caplog.text and PASSWORD not in caplog.text


class TestFiles:
    async def test_without_smtp_each_mail_becomes_an_eml_file(
        self, client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, runtime: Runtime
    ) -> None:
        assert runtime.settings.smtp_url is None
        await fallen(client, db, app, runtime)
        assert await deliver_mail(runtime) == 2
        files = sorted(runtime.settings.mail_dir.glob("*.eml"))
        assert len(files) == 2 and not list(runtime.settings.mail_dir.glob("*.part"))
        message = message_from_bytes(files[0].read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        assert message["Subject"] == DISCONNECTED
        text, html = parts(message)
        assert "/settings/whatsapp" in text and "/settings/whatsapp" in html
