"""Coexistence complete (ARCHITECTURE §14): right after a WhatsApp Business app number is onboarded, the
contact sync then the history sync are requested once each and recorded, and what Meta then delivers by
webhook is kept for the assistant; over real sockets, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.config import WEBHOOK_PATH, Settings
from qualifica.meta.sandbox import Sandbox
from qualifica.meta.sandbox.world import IdMaker
from qualifica.runtime import Runtime
from qualifica.webhooks.models import WebhookChange
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp.coexistence import request_due_syncs
from qualifica.whatsapp.models import CoexistenceSync, SyncStatus, WhatsAppConnection, WhatsAppContact
from tests.support.accounts import sign_in
from tests.support.live import live_server
from tests.support.signup import Browser


@pytest.fixture
async def browser(client: httpx.AsyncClient, admin_user: User) -> Browser:
    return Browser(client, await sign_in(client, admin_user))


@pytest.fixture
def webhook_url(settings: Settings, sandbox: Sandbox) -> Iterator[str]:
    """Our app on a real socket (no worker: the test drives processing), the sandbox's webhook target."""
    with live_server(settings) as url:
        sandbox.webhooks.url = url + WEBHOOK_PATH
        assert sandbox.webhooks.wait_idle(15)  # an earlier test's retries end before this one starts
        sandbox.webhooks.deliveries.clear()
        yield url


async def onboard_business_app_number(
    browser: Browser, sandbox: Sandbox, runtime: Runtime, db: AsyncSession, organization_id: object
) -> WhatsAppConnection:
    response = await browser.connect(sandbox, "coexistence")
    assert response.status_code == 200, response.text
    await asyncio.gather(*runtime.background)  # the syncs asked for right after the save
    connection = await db.scalar(
        select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
    )
    assert connection is not None
    return connection


async def syncs(db: AsyncSession) -> list[CoexistenceSync]:
    db.expire_all()
    return list((await db.scalars(select(CoexistenceSync).order_by(CoexistenceSync.position))).all())


async def settle_webhooks(sandbox: Sandbox, runtime: Runtime) -> None:
    assert sandbox.webhooks.wait_idle(15)
    while await process_webhooks(runtime):
        pass


class TestSyncRequests:
    async def test_contacts_then_history_are_requested_once_each_and_recorded(
        self,
        browser: Browser,
        sandbox: Sandbox,
        runtime: Runtime,
        db: AsyncSession,
        admin_user: User,
        webhook_url: str,
    ) -> None:
        connection = await onboard_business_app_number(
            browser, sandbox, runtime, db, admin_user.organization_id
        )
        requests = sandbox.requests("smb_app_data")
        assert [request.body["sync_type"] for request in requests] == ["smb_app_state_sync", "history"]
        assert all(request.path == f"{connection.phone_number_id}/smb_app_data" for request in requests)
        rows = await syncs(db)
        assert [(row.sync_type.value, row.status) for row in rows] == [
            ("smb_app_state_sync", SyncStatus.REQUESTED),
            ("history", SyncStatus.REQUESTED),
        ]
        assert all(row.request_id and row.requested_at for row in rows)
        assert rows[0].requested_at <= rows[1].requested_at  # type: ignore[operator]

        assert await request_due_syncs(runtime) == 0  # the worker's job finds nothing left to ask
        assert len(sandbox.requests("smb_app_data")) == 2

    async def test_what_meta_delivers_is_kept_for_the_assistant(
        self,
        browser: Browser,
        sandbox: Sandbox,
        runtime: Runtime,
        db: AsyncSession,
        admin_user: User,
        webhook_url: str,
    ) -> None:
        organization_id = admin_user.organization_id
        connection = await onboard_business_app_number(browser, sandbox, runtime, db, organization_id)
        sandbox.notify.smb_message_echo(connection.phone_number_id, to="5511987650001")
        await settle_webhooks(sandbox, runtime)

        changes = (
            await db.scalars(select(WebhookChange).where(WebhookChange.organization_id == organization_id))
        ).all()
        fields = {change.field for change in changes}
        assert {"smb_app_state_sync", "history", "smb_message_echoes"} <= fields
        assert all(change.outcome == "processed" for change in changes)
        contacts = (await db.scalars(select(WhatsAppContact))).all()
        by_source = {contact.source for contact in contacts}
        assert "smb_app_state_sync" in by_source
        assert all(contact.organization_id == organization_id for contact in contacts)
        echoed = next(contact for contact in contacts if contact.wa_id == "5511987650001")
        assert echoed.user_id == IdMaker.bsuid("5511987650001")
        history = (await syncs(db))[1]
        assert (history.progress, history.error_code) == (100, None)
        assert history.last_delivery_at is not None

    async def test_declined_history_is_recorded(
        self,
        browser: Browser,
        sandbox: Sandbox,
        runtime: Runtime,
        db: AsyncSession,
        admin_user: User,
        webhook_url: str,
    ) -> None:
        sandbox.set_history_sharing(False)
        await onboard_business_app_number(browser, sandbox, runtime, db, admin_user.organization_id)
        await settle_webhooks(sandbox, runtime)
        history = (await syncs(db))[1]
        assert (history.status, history.error_code) == (SyncStatus.REQUESTED, "2593109")

    async def test_a_sync_meta_already_has_is_requested_not_failed(
        self, browser: Browser, sandbox: Sandbox, runtime: Runtime, db: AsyncSession, admin_user: User
    ) -> None:
        """A run that died after Meta's answer asks again; Meta's 2593107 means it was asked, once."""
        sandbox.fail_next("smb_app_data", code=2593107, message="(#2593107) Already requested")
        await onboard_business_app_number(browser, sandbox, runtime, db, admin_user.organization_id)
        rows = await syncs(db)
        assert [(row.status, row.error_code) for row in rows] == [
            (SyncStatus.REQUESTED, "2593107"),
            (SyncStatus.REQUESTED, None),
        ]

    async def test_a_rate_limited_sync_waits_for_meta_and_history_waits_for_contacts(
        self, browser: Browser, sandbox: Sandbox, runtime: Runtime, db: AsyncSession, admin_user: User
    ) -> None:
        usage = {"type": "whatsapp", "call_count": 100, "total_cputime": 1, "total_time": 1,
                 "estimated_time_to_regain_access": 1}  # fmt: skip
        sandbox.fail_next("smb_app_data", code=80007)
        sandbox.set_usage(business={"600000000000006": [usage]})
        await onboard_business_app_number(browser, sandbox, runtime, db, admin_user.organization_id)
        sandbox.set_usage()
        contacts, history = await syncs(db)
        assert (contacts.status, history.status) == (SyncStatus.PENDING, SyncStatus.PENDING)
        assert contacts.next_attempt_at is not None
        assert len(sandbox.requests("smb_app_data")) == 1  # history never asked before contacts
        assert await request_due_syncs(runtime, now=contacts.next_attempt_at - timedelta(seconds=5)) == 0
        assert len(sandbox.requests("smb_app_data")) == 1
        assert await request_due_syncs(runtime, now=contacts.next_attempt_at + timedelta(seconds=1)) == 2
        requests = sandbox.requests("smb_app_data")
        assert [request.body["sync_type"] for request in requests] == [
            "smb_app_state_sync",
            "smb_app_state_sync",
            "history",
        ]
        assert [row.status for row in await syncs(db)] == [SyncStatus.REQUESTED, SyncStatus.REQUESTED]

    async def test_a_regular_number_requests_no_sync(
        self, browser: Browser, sandbox: Sandbox, runtime: Runtime, db: AsyncSession
    ) -> None:
        assert (await browser.connect(sandbox)).status_code == 200
        await asyncio.gather(*runtime.background)
        assert await syncs(db) == []
        assert sandbox.requests("smb_app_data") == []
