"""WhatsApp connections as the signup pipeline saves them, with a placeholder or a real sandbox token."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.models import Organization
from qualifica.runtime import Runtime
from qualifica.security.crypto import KeyRing, seal
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection
from tests.support.factories import make_org


async def make_connection(
    db: AsyncSession,
    app: FastAPI,
    *,
    waba_id: str,
    phone_number_id: str | None = None,  # one of its own unless given: a number has one holder (§12)
    token: str = "EAAtest-not-a-real-token",  # noqa: S107 - a placeholder no Graph call ever sees
    pin: str | None = None,
    display: str | None = "+55 11 4000-1234",
    organization: Organization | None = None,
    status: ConnectionStatus = ConnectionStatus.ACTIVE,
    ring: KeyRing | None = None,
) -> WhatsAppConnection:
    """A committed connection; its secrets sealed with ``ring`` (the app's key ring unless given)."""
    runtime: Runtime = app.state.runtime
    ring = ring or runtime.ring
    organization = organization or await make_org(db)
    connection = WhatsAppConnection(
        organization_id=organization.id,
        waba_id=waba_id,
        phone_number_id=phone_number_id or f"1{waba_id}",
        display_phone_number=display,
        business_name="Imobiliária Horizonte Ltda",
        status=status,
        connected_at=utcnow(),
    )
    connection.access_token = seal(ring, connection, "access_token", token)
    if pin is not None:
        connection.registration_pin = seal(ring, connection, "registration_pin", pin)
    db.add(connection)
    await db.commit()
    return connection


async def connect_with_sandbox(
    db: AsyncSession, app: FastAPI, sandbox: Sandbox, **kwargs: Any
) -> tuple[WhatsAppConnection, str]:
    """A connection holding a real sandbox token, as the signup pipeline would have saved it."""
    result = sandbox.complete_signup()
    assert result.code and result.waba_id and result.phone_number_id
    runtime: Runtime = app.state.runtime
    token = (await runtime.graph.exchange_code(result.code)).access_token
    await runtime.graph.subscribe_app(result.waba_id, token=token)  # the signup leaves our app subscribed
    with sandbox.lock:
        display = sandbox.world.phones[result.phone_number_id].display_phone_number
    connection = await make_connection(
        db, app, waba_id=result.waba_id, phone_number_id=result.phone_number_id, token=token, display=display,
        **kwargs,
    )  # fmt: skip
    return connection, token


async def reload(db: AsyncSession, connection: WhatsAppConnection) -> WhatsAppConnection:
    fresh = await db.get(WhatsAppConnection, connection.id, populate_existing=True)
    assert fresh is not None
    return fresh
