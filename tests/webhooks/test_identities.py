"""Inbound identities as Meta sends them today (ARCHITECTURE §14; reference 2026 §5.9): business-scoped
user ids beside or instead of ``wa_id``, and the system messages that change either; a lead is never keyed
on the phone alone. Signed webhooks from the sandbox over a real socket, on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.config import WEBHOOK_PATH, Settings
from qualifica.meta.sandbox import Sandbox
from qualifica.meta.sandbox.world import IdMaker
from qualifica.runtime import Runtime
from qualifica.webhooks.models import WebhookChange
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp.models import WhatsAppConnection, WhatsAppContact
from tests.support.connections import connect_with_sandbox
from tests.support.live import live_server

LEAD = "5511912345678"


@pytest.fixture
def webhook_url(settings: Settings, sandbox: Sandbox) -> Iterator[str]:
    with live_server(settings) as url:
        sandbox.webhooks.url = url + WEBHOOK_PATH
        assert sandbox.webhooks.wait_idle(15)  # an earlier test's retries end before this one starts
        sandbox.webhooks.deliveries.clear()
        yield url


@pytest.fixture
async def connection(
    db: AsyncSession, app: FastAPI, sandbox: Sandbox, webhook_url: str, runtime: Runtime
) -> WhatsAppConnection:
    connection, _ = await connect_with_sandbox(db, app, sandbox)
    await settle(sandbox, runtime)
    return connection


async def settle(sandbox: Sandbox, runtime: Runtime) -> None:
    assert sandbox.webhooks.wait_idle(15)
    while await process_webhooks(runtime):
        pass


async def contacts(db: AsyncSession) -> list[WhatsAppContact]:
    db.expire_all()
    return list((await db.scalars(select(WhatsAppContact).order_by(WhatsAppContact.created_at))).all())


class TestIdentities:
    async def test_a_message_keeps_the_sender_by_bsuid_and_phone(
        self, db: AsyncSession, sandbox: Sandbox, runtime: Runtime, connection: WhatsAppConnection
    ) -> None:
        organization_id, phone_id = connection.organization_id, connection.phone_number_id
        sandbox.notify.message(phone_id, LEAD)
        await settle(sandbox, runtime)
        (contact,) = await contacts(db)
        assert (contact.user_id, contact.wa_id, contact.profile_name) == (
            IdMaker.bsuid(LEAD),
            LEAD,
            "Cliente Teste",
        )
        assert (contact.organization_id, contact.phone_number_id) == (organization_id, phone_id)
        assert contact.last_inbound_at is not None
        change = await db.scalar(select(WebhookChange).where(WebhookChange.field == "messages"))
        assert change is not None and change.outcome == "processed"  # the message stays for the assistant

    async def test_a_username_user_without_wa_id_is_kept_by_bsuid(
        self, db: AsyncSession, sandbox: Sandbox, runtime: Runtime, connection: WhatsAppConnection
    ) -> None:
        sandbox.notify.message(connection.phone_number_id, "5511900001111", username=True)
        sandbox.notify.message(connection.phone_number_id, "5511900001111", username=True)
        await settle(sandbox, runtime)
        (contact,) = await contacts(db)
        assert (contact.user_id, contact.wa_id) == (IdMaker.bsuid("5511900001111"), None)

    async def test_a_new_user_id_moves_the_same_lead(
        self, db: AsyncSession, sandbox: Sandbox, runtime: Runtime, connection: WhatsAppConnection
    ) -> None:
        phone_id, old = connection.phone_number_id, IdMaker.bsuid(LEAD)
        sandbox.notify.message(phone_id, LEAD)
        await settle(sandbox, runtime)
        sandbox.notify.user_changed_user_id(phone_id, LEAD, old, "BR.9999999999999999")
        await settle(sandbox, runtime)
        sandbox.notify.message(phone_id, LEAD, user_id="BR.9999999999999999")
        await settle(sandbox, runtime)
        (contact,) = await contacts(db)
        assert (contact.user_id, contact.previous_user_ids, contact.wa_id) == (
            "BR.9999999999999999",
            [old],
            LEAD,
        )

    async def test_a_new_number_moves_the_same_lead_and_its_new_bsuid(
        self, db: AsyncSession, sandbox: Sandbox, runtime: Runtime, connection: WhatsAppConnection
    ) -> None:
        phone_id = connection.phone_number_id
        sandbox.notify.message(phone_id, LEAD)
        await settle(sandbox, runtime)
        sandbox.notify.user_changed_number(phone_id, LEAD, "5511955554444")
        await settle(sandbox, runtime)
        sandbox.notify.message(phone_id, "5511955554444")
        await settle(sandbox, runtime)
        (contact,) = await contacts(db)
        assert (contact.wa_id, contact.previous_wa_ids) == ("5511955554444", [LEAD])
        assert (contact.user_id, contact.previous_user_ids) == (
            IdMaker.bsuid("5511955554444"),
            [IdMaker.bsuid(LEAD)],
        )
        assert await db.scalar(select(func.count()).select_from(WhatsAppContact)) == 1
