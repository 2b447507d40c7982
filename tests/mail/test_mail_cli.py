"""``qualifica mail list|resend``: support finds a mail that failed and sends it again, audited."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from qualifica.accounts.models import Role
from qualifica.audit import AuditEntry
from qualifica.cli import app as cli_app
from qualifica.runtime import Runtime
from qualifica.whatsapp.connection_state import mark_error
from qualifica.whatsapp.mail.delivery import deliver_mail
from qualifica.whatsapp.mail.models import MailOutbox, MailStatus
from qualifica.whatsapp.mail.transport import SmtpSink
from qualifica.whatsapp.models import WhatsAppConnection
from tests.support.connections import make_connection
from tests.support.factories import make_org, make_user
from tests.support.smtp import Inbox, smtp_server


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("QUALIFICA_DATABASE_URL", database_url)
    return CliRunner()


async def invoke(cli: CliRunner, *args: str, ok: bool = True) -> str:
    result = await asyncio.to_thread(cli.invoke, cli_app, list(args))
    assert (result.exit_code == 0) is ok, result.output
    return result.output


async def test_support_lists_a_failed_mail_and_resends_it_once(
    cli: CliRunner, db: AsyncSession, app: FastAPI, runtime: Runtime
) -> None:
    organization = await make_org(db, "Imobiliária Aurora")
    organization_id = organization.id
    await make_user(db, organization, role=Role.ADMIN, email="ana@aurora.example")
    await db.commit()
    connection = await make_connection(db, app, waba_id="4000000000097", organization=organization)
    async with runtime.sessionmaker.begin() as session:
        row = await session.get(WhatsAppConnection, connection.id)
        assert row is not None
        await mark_error(session, row, code="app_uninstalled", source="test")
    await db.execute(
        update(MailOutbox).values(status=MailStatus.FAILED, attempts=26, error="SMTPConnectError")
    )
    await db.commit()

    listing = await invoke(cli, "mail", "list", "--status", "failed")
    mail_id = listing.split("\t", 1)[0]
    assert "disconnected\tfailed\tattempts=26" in listing and "error=SMTPConnectError" in listing
    assert "ana@aurora.example" in listing
    assert await invoke(cli, "mail", "list", "--status", "sent") == ""

    resent = await invoke(cli, "mail", "resend", mail_id)
    assert "\tpending\tattempts=0\t" in resent
    inbox = Inbox()
    with smtp_server(inbox) as port:
        sink = SmtpSink.from_url(f"smtp://127.0.0.1:{port}")
        assert await deliver_mail(runtime, sink=sink) == 1
        assert await deliver_mail(runtime, sink=sink) == 0
    assert [str(m["To"]) for m in inbox.received] == ["ana@aurora.example"]
    db.expire_all()
    (entry,) = await db.scalars(select(AuditEntry).where(AuditEntry.action == "mail.resent"))
    assert entry.organization_id == organization_id
    assert (entry.details or {})["previous_status"] == "failed"


async def test_bad_input_is_refused_with_a_clear_line(cli: CliRunner, db: AsyncSession) -> None:
    assert "--status deve ser" in await invoke(cli, "mail", "list", "--status", "lost", ok=False)
    assert "deve ser um UUID" in await invoke(cli, "mail", "resend", "abc", ok=False)
    unknown = await invoke(cli, "mail", "resend", "00000000-0000-0000-0000-000000000000", ok=False)
    assert "e-mail não encontrado" in unknown
