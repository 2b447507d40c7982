"""``last_webhook_at``: when a webhook about a connection last arrived, on the card and on ``/ops``."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role
from qualifica.runtime import Runtime
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp.pages import AGENCY_TIMEZONE
from tests.support.accounts import sign_in
from tests.support.connections import make_connection, reload
from tests.support.factories import make_org, make_user
from tests.support.webhooks import account_entry, envelope, post_signed

HTML = {"Accept": "text/html"}
WABA = "4000000000077"


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class TestLastWebhookAt:
    async def test_a_processed_webhook_moves_it_forward_and_the_card_and_ops_show_it(
        self, client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, runtime: Runtime
    ) -> None:
        connection = await make_connection(db, app, waba_id=WABA, display="5511940007777")
        assert connection.last_webhook_at is None
        body = envelope(account_entry("ACCOUNT_VIOLATION", WABA, violation_info={"violation_type": "ADULT"}))
        assert (await post_signed(client, body)).status_code == 200
        await process_webhooks(runtime)
        first = (await reload(db, connection)).last_webhook_at
        assert first is not None
        assert (
            await post_signed(client, envelope(account_entry("VERIFIED_ACCOUNT", WABA)))
        ).status_code == 200
        await process_webhooks(runtime)
        second = (await reload(db, connection)).last_webhook_at
        assert second is not None and second >= first
        shown = second.astimezone(AGENCY_TIMEZONE).strftime("%d/%m/%Y %H:%M")

        admin = await make_user(
            db, await db.get_one(Organization, connection.organization_id), role=Role.ADMIN
        )
        staff = await make_user(db, await make_org(db, "Qualifica"), role=Role.STAFF, email="ops@q.test")
        await db.commit()
        await sign_in(client, admin)
        card = text((await client.get("/settings/whatsapp", headers=HTML)).text)
        assert f"Último aviso da Meta {shown}" in card
        await sign_in(client, staff)
        ops = await client.get("/ops", headers=HTML)
        assert ops.status_code == 200
        row = re.search(r'data-field="last_webhook_at">([^<]*)<', ops.text)
        assert row and row.group(1) != "—"

    async def test_a_connection_without_webhooks_shows_a_dash(
        self, client: httpx.AsyncClient, db: AsyncSession, app: FastAPI
    ) -> None:
        connection = await make_connection(db, app, waba_id=WABA, display="5511940007777")
        admin = await make_user(
            db, await db.get_one(Organization, connection.organization_id), role=Role.ADMIN
        )
        await db.commit()
        await sign_in(client, admin)
        card = text((await client.get("/settings/whatsapp", headers=HTML)).text)
        assert "Último aviso da Meta —" in card
