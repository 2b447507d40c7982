"""The outbox: a connection's change queues one mail per admin, once, in the change's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Role, User
from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.runtime import Runtime
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp.connection_state import mark_active, mark_error
from qualifica.whatsapp.health_check import run_due_health_checks
from qualifica.whatsapp.mail.models import MailKind, MailOutbox, MailStatus
from qualifica.whatsapp.models import WhatsAppConnection
from tests.support.accounts import sign_in
from tests.support.connections import connect_with_sandbox, make_connection
from tests.support.factories import make_org, make_user
from tests.support.signup import Browser
from tests.support.webhooks import account_entry, envelope, post_signed

WABA = "4000000000081"


async def outbox(db: AsyncSession) -> list[MailOutbox]:
    db.expire_all()
    return list(await db.scalars(select(MailOutbox).order_by(MailOutbox.recipient)))


def due(runtime: Runtime) -> datetime:
    return utcnow() + timedelta(seconds=runtime.settings.health_check_interval_seconds + 1)


async def test_an_uninstall_webhook_queues_one_mail_per_admin_and_none_to_members_once(
    client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, runtime: Runtime
) -> None:
    organization = await make_org(db, "Imobiliária Aurora")
    await make_user(db, organization, role=Role.ADMIN, email="ana@aurora.example")
    await make_user(db, organization, role=Role.ADMIN, email="bia@aurora.example")
    await make_user(db, organization, role=Role.MEMBER, email="caio@aurora.example")
    await db.commit()
    await make_connection(db, app, waba_id=WABA, organization=organization)
    body = envelope(account_entry("PARTNER_APP_UNINSTALLED", WABA))
    for _ in range(3):  # Meta redelivers: still one mail each
        await post_signed(client, body)
        await process_webhooks(runtime)
    mails = await outbox(db)
    assert [(m.kind, m.recipient, m.status) for m in mails] == [
        (MailKind.DISCONNECTED, "ana@aurora.example", MailStatus.PENDING),
        (MailKind.DISCONNECTED, "bia@aurora.example", MailStatus.PENDING),
    ]


async def test_reconnecting_queues_the_connected_again_mail_and_a_new_fall_mails_again(
    db: AsyncSession, app: FastAPI, runtime: Runtime
) -> None:
    organization = await make_org(db, "Imobiliária Aurora")
    await make_user(db, organization, role=Role.ADMIN, email="ana@aurora.example")
    await db.commit()
    connection = await make_connection(db, app, waba_id=WABA, organization=organization)

    async def change(fall: bool) -> None:
        async with runtime.sessionmaker.begin() as session:
            row = await session.get(WhatsAppConnection, connection.id)
            assert row is not None
            if fall:
                await mark_error(session, row, code="partner_removed", source="test")
                await mark_error(session, row, code="app_uninstalled", source="test")  # still the same fall
            else:
                await mark_active(session, row, source="test")
                await mark_active(session, row, source="test")

    await change(fall=True)
    await change(fall=False)
    await change(fall=True)
    kinds = sorted(m.kind.value for m in await outbox(db))
    assert kinds == ["disconnected", "disconnected", "reconnected"]
    assert {m.recipient for m in await outbox(db)} == {"ana@aurora.example"}


async def test_a_token_expiring_queues_one_mail_per_expiry_date(
    db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime
) -> None:
    sandbox.set_token_lifetime(3 * 86400)
    organization = await make_org(db, "Imobiliária Aurora")
    await make_user(db, organization, role=Role.ADMIN, email="ana@aurora.example")
    await db.commit()
    connection, _ = await connect_with_sandbox(db, app, sandbox, organization=organization)
    connection_id = connection.id
    await run_due_health_checks(runtime, now=due(runtime))
    await run_due_health_checks(runtime, now=due(runtime) + timedelta(days=1))
    mails = [m for m in await outbox(db) if m.kind is MailKind.EXPIRING]
    assert [(m.recipient, m.connection_id) for m in mails] == [("ana@aurora.example", connection_id)]


async def test_an_admin_reconnecting_through_the_signup_after_an_error_mails_connected_again(
    client: httpx.AsyncClient, db: AsyncSession, sandbox: Sandbox, runtime: Runtime, admin_user: User
) -> None:
    email = admin_user.email
    admin = Browser(client, await sign_in(client, admin_user))
    assert (await admin.connect(sandbox)).status_code == 200
    assert await outbox(db) == []  # a first connection is not "connected again"
    connection = await db.scalar(select(WhatsAppConnection))
    assert connection is not None
    async with runtime.sessionmaker.begin() as session:
        row = await session.get(WhatsAppConnection, connection.id)
        assert row is not None
        await mark_error(session, row, code="app_uninstalled", source="test")

    assert (await admin.connect(sandbox)).status_code == 200
    mails = await outbox(db)
    assert sorted(m.kind.value for m in mails) == ["disconnected", "reconnected"]
    assert {m.recipient for m in mails} == {email}
