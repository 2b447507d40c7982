"""ARCHITECTURE §12: one organization holds a WABA and a number; one open attempt per organization."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.meta.sandbox import Sandbox
from qualifica.runtime import Runtime
from qualifica.webhooks.models import WebhookChange
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp import ownership
from qualifica.whatsapp.models import (
    AttemptStatus,
    ConnectionStatus,
    EmbeddedSignupAttempt,
    WhatsAppConnection,
)
from tests.support.accounts import sign_in
from tests.support.connections import make_connection
from tests.support.factories import make_org, make_user
from tests.support.signup import Browser
from tests.support.webhooks import envelope, post_signed

WABA_IN_USE = (
    "Esta conta do WhatsApp Business já está conectada a outra imobiliária no Qualifica Leads. "
    "Entre em contato com o suporte."
)


@pytest.fixture
async def rival_user(db: AsyncSession) -> User:
    user = await make_user(db, await make_org(db, "Imobiliária Concorrente"))
    await db.commit()
    return user


@pytest.fixture
async def rival(app: FastAPI, rival_user: User) -> AsyncIterator[Browser]:
    """The admin of another agency, in a browser of their own."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield Browser(http, await sign_in(http, rival_user))


async def connection_of(db: AsyncSession, organization_id: uuid.UUID) -> WhatsAppConnection | None:
    db.expire_all()
    return await db.scalar(
        select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
    )


async def attempts_of(db: AsyncSession, organization_id: uuid.UUID) -> list[EmbeddedSignupAttempt]:
    db.expire_all()
    query = select(EmbeddedSignupAttempt).where(EmbeddedSignupAttempt.organization_id == organization_id)
    return list((await db.scalars(query.order_by(EmbeddedSignupAttempt.created_at))).all())


class TestOneOwnerPerWaba:
    async def test_another_agency_connecting_the_same_waba_gets_409_and_changes_nothing(
        self, browser: Browser, rival: Browser, sandbox: Sandbox, db: AsyncSession, admin: User,
        rival_user: User,
    ) -> None:  # fmt: skip
        ours, rival_organization = admin.organization_id, rival_user.organization_id
        assert (await browser.connect(sandbox)).status_code == 200
        holder = await connection_of(db, ours)
        assert holder is not None
        before = (holder.status, holder.access_token, holder.phone_number_id, holder.updated_at)
        sandbox.clear_requests()

        response = await rival.connect(sandbox)  # the sandbox's business has one WABA: the same one
        assert response.status_code == 409, response.text
        assert response.json() == {"error": {"code": "waba_in_use", "message": WABA_IN_USE}}
        assert sandbox.requests("register") == []  # the holder's number is never touched
        assert [r.method for r in sandbox.requests("subscribed_apps")] == ["POST"]  # no unsubscribe
        holder = await connection_of(db, ours)
        assert holder is not None
        assert (holder.status, holder.access_token, holder.phone_number_id, holder.updated_at) == before
        assert await db.scalar(select(func.count()).select_from(WhatsAppConnection)) == 1
        (attempt,) = await attempts_of(db, rival_organization)
        assert (attempt.status, attempt.error_code, attempt.access_token) == (
            AttemptStatus.FAILED,
            "waba_in_use",
            None,
        )
        status = await rival.status()
        assert status["status"] == "not_connected" and status["error"]["code"] == "waba_in_use"
        # and the rival's disconnect has nothing to unsubscribe
        assert (await rival.post("/connection/disconnect")).status_code == 404
        assert [r.method for r in sandbox.requests("subscribed_apps")] == ["POST"]

    async def test_a_save_racing_past_the_check_is_still_409_not_500(
        self,
        browser: Browser,
        rival: Browser,
        sandbox: Sandbox,
        db: AsyncSession,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        assert (await browser.connect(sandbox)).status_code == 200

        async def nobody(*_: object, **__: object) -> bool:
            return False  # as if the holder saved between our check and our insert

        monkeypatch.setattr(ownership, "held_elsewhere", nobody)
        monkeypatch.setattr(ownership, "ensure_free", nobody)
        response = await rival.connect(sandbox)
        assert response.status_code == 409 and response.json()["error"]["code"] == "waba_in_use"
        assert await db.scalar(select(func.count()).select_from(WhatsAppConnection)) == 1
        rows = await db.scalars(select(EmbeddedSignupAttempt.access_token))
        assert list(rows) == [None, None]

    async def test_the_database_refuses_two_holders_of_one_number(
        self, db: AsyncSession, app: FastAPI
    ) -> None:
        await make_connection(db, app, waba_id="5000000000001", phone_number_id="6000000000001")
        with pytest.raises(IntegrityError):
            await make_connection(db, app, waba_id="5000000000002", phone_number_id="6000000000001")
        await db.rollback()
        with pytest.raises(IntegrityError):
            await make_connection(db, app, waba_id="5000000000001", phone_number_id="6000000000002")
        await db.rollback()
        # a disconnected row holds nothing
        await make_connection(
            db,
            app,
            waba_id="5000000000001",
            phone_number_id="6000000000001",
            status=ConnectionStatus.DISCONNECTED,
        )

    async def test_webhooks_go_to_the_holder_not_to_the_newest_row(
        self, browser: Browser, rival: Browser, sandbox: Sandbox, db: AsyncSession, admin: User,
        client: httpx.AsyncClient, runtime: Runtime, app: FastAPI,
    ) -> None:  # fmt: skip
        ours = admin.organization_id
        assert (await browser.connect(sandbox)).status_code == 200
        assert (await rival.connect(sandbox)).status_code == 409
        holder = await connection_of(db, ours)
        assert holder is not None
        # The rival's older, disconnected row for the same WABA is newer in ``updated_at``: irrelevant.
        other = await make_org(db)
        await make_connection(
            db, app, waba_id=holder.waba_id, phone_number_id=holder.phone_number_id,
            organization=other, status=ConnectionStatus.DISCONNECTED,
        )  # fmt: skip
        value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": holder.phone_number_id}}
        body = envelope({"id": holder.waba_id, "changes": [{"field": "messages", "value": value}]})
        assert (await post_signed(client, body)).status_code == 200
        await process_webhooks(runtime)
        change = await db.scalar(select(WebhookChange).where(WebhookChange.field == "messages"))
        assert change is not None and change.organization_id == ours
