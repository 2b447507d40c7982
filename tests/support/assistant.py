"""The assistant's side of the tests: a connected organization, its service key, and a lead who wrote."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.assistant.keys import create_key
from qualifica.assistant.window import note_inbound
from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.whatsapp.models import WhatsAppConnection
from tests.support.connections import connect_with_sandbox
from tests.support.leaks import MINTED

LEAD = "5511987650001"
MESSAGES = "/api/v1/whatsapp/messages"


@dataclass(frozen=True)
class Assistant:
    """A connected organization seen from the assistant: its connection and a key bound to it."""

    connection: WhatsAppConnection
    key: str

    @property
    def organization_id(self) -> uuid.UUID:
        return self.connection.organization_id

    @property
    def phone_number_id(self) -> str:
        return self.connection.phone_number_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_key(db: AsyncSession, *, organization_id: uuid.UUID | None, name: str = "assistente") -> str:
    created = await create_key(db, name=name, organization_id=organization_id)
    await db.commit()
    MINTED[created.key] = "service_key"  # the reliability suite's leak scan looks for it in every log
    return created.key


async def connected_assistant(db: AsyncSession, app: FastAPI, sandbox: Sandbox) -> Assistant:
    connection, _ = await connect_with_sandbox(db, app, sandbox)
    return Assistant(connection, await make_key(db, organization_id=connection.organization_id))


async def lead_wrote(db: AsyncSession, sandbox: Sandbox, assistant: Assistant, wa_id: str = LEAD) -> None:
    """The lead messaged the number just now: its window is open at Meta and in our store."""
    sandbox.lead_wrote(assistant.phone_number_id, wa_id)
    await note_inbound(
        db,
        organization_id=assistant.organization_id,
        phone_number_id=assistant.phone_number_id,
        wa_id=wa_id,
        at=utcnow(),
    )
    await db.commit()


def text(
    body: str = "Sim, o apartamento aceita financiamento.", to: str = LEAD, **extra: object
) -> dict[str, object]:
    return {"to": LEAD, "type": "text", "text": {"body": body}, **extra}


def hello_world(to: str = LEAD) -> dict[str, object]:
    return {"to": to, "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


async def send(
    client: httpx.AsyncClient, assistant: Assistant, body: dict[str, object], *, key: str | None = None
) -> httpx.Response:
    headers = dict(assistant.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(MESSAGES, json=body, headers=headers)


async def record_key_uses(app: FastAPI) -> None:
    """Write the key uses the app still buffers (it does so by itself a moment later)."""
    uses = getattr(app.state, "key_uses", None)
    if uses is not None:
        await uses.flush()
