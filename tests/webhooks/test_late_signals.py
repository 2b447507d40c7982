"""ARCHITECTURE §12: an account event Meta sent before the connection was made (a retried uninstall of the
connection it replaced) is recorded and changes nothing."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.runtime import Runtime
from qualifica.webhooks.models import WebhookChange
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp.models import ConnectionStatus
from tests.support.connections import make_connection, reload
from tests.support.webhooks import account_entry, envelope, post_signed

WABA = "4300000000001"


class TestLateAccountEvents:
    async def test_an_uninstall_sent_before_the_connection_is_recorded_and_ignored(
        self, client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, runtime: Runtime
    ) -> None:
        connection = await make_connection(db, app, waba_id=WABA)
        assert connection.connected_at is not None
        before = int(connection.connected_at.timestamp()) - 1  # Meta's whole seconds
        body = envelope(account_entry("PARTNER_APP_UNINSTALLED", WABA, at=before))
        assert (await post_signed(client, body)).status_code == 200
        await process_webhooks(runtime)
        change = await db.scalar(select(WebhookChange).execution_options(populate_existing=True))
        assert change is not None and change.outcome == "processed"  # recorded, not retried
        connection = await reload(db, connection)
        assert (connection.status, connection.error_code) == (ConnectionStatus.ACTIVE, None)

    async def test_one_sent_in_the_second_of_the_connection_still_counts(
        self, client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, runtime: Runtime
    ) -> None:
        connection = await make_connection(db, app, waba_id=WABA)
        assert connection.connected_at is not None
        same_second = int(connection.connected_at.timestamp())
        await post_signed(client, envelope(account_entry("PARTNER_APP_UNINSTALLED", WABA, at=same_second)))
        await process_webhooks(runtime)
        connection = await reload(db, connection)
        assert (connection.status, connection.error_code) == (ConnectionStatus.ERROR, "app_uninstalled")
