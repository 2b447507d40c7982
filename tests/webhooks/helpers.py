"""Connections, signed posts and a live server for the webhook and health tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.app import create_app
from qualifica.audit import AuditEntry
from qualifica.config import WEBHOOK_PATH, Settings
from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.meta.signature import sign
from qualifica.models import Organization
from qualifica.runtime import Runtime
from qualifica.security.crypto import seal
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection
from tests.support.factories import make_org
from tests.support.live import serve_in_thread
from tests.support.meta import APP_SECRET


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"content-type": "application/json", "x-hub-signature-256": sign(body, secret)}


async def post_signed(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post(WEBHOOK_PATH, content=body, headers=signed(body))


def envelope(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": list(entries)}).encode()


def account_entry(
    event: str, waba_id: str, *, entry_id: str = "880000000000900", **extra: Any
) -> dict[str, Any]:
    value = {"event": event, "waba_info": {"waba_id": waba_id, "owner_business_id": "1"}, **extra}
    return {"id": entry_id, "time": 1748477359, "changes": [{"field": "account_update", "value": value}]}


async def make_connection(
    db: AsyncSession,
    app: FastAPI,
    *,
    waba_id: str,
    phone_number_id: str = "1000001",
    token: str = "EAAtest-not-a-real-token",  # noqa: S107 - a placeholder no Graph call ever sees
    display: str | None = "+55 11 4000-1234",
    organization: Organization | None = None,
    status: ConnectionStatus = ConnectionStatus.ACTIVE,
) -> WhatsAppConnection:
    organization = organization or await make_org(db)
    connection = WhatsAppConnection(
        organization_id=organization.id,
        waba_id=waba_id,
        phone_number_id=phone_number_id,
        display_phone_number=display,
        business_name="Imobiliária Horizonte Ltda",
        status=status,
        connected_at=utcnow(),
    )
    connection.access_token = seal(app.state.runtime.ring, connection, "access_token", token)
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


async def status_audits(db: AsyncSession, connection: WhatsAppConnection) -> list[AuditEntry]:
    query = select(AuditEntry).where(
        AuditEntry.organization_id == connection.organization_id,
        AuditEntry.action == "whatsapp.status_changed",
    )
    return list((await db.scalars(query.execution_options(populate_existing=True))).all())


async def count(db: AsyncSession, model: type[Any], *where: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@contextmanager
def live_server(settings: Settings, *, worker: bool = False) -> Iterator[str]:
    """A second instance of the app on a real socket (same database), with or without its worker."""
    app = create_app(settings, configure_logs=False, embedded_worker=worker)
    with serve_in_thread(app) as url:
        yield url
