"""The durable inbox: one ``webhook_events`` row per distinct body, written before Meta gets its 200."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from qualifica.db import utcnow
from qualifica.webhooks.payload import Summary, read, summarize
from qualifica.whatsapp.models import WebhookEvent


@dataclass(frozen=True)
class Stored:
    event_id: uuid.UUID | None  # None: the same body was stored before (Meta retries and duplicates)
    summary: Summary

    @property
    def duplicate(self) -> bool:
        return self.event_id is None


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def as_text(body: bytes) -> str:
    """The body as stored: UTF-8 (Meta's encoding) with NUL replaced, which PostgreSQL text cannot hold."""
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


async def store(connection: AsyncConnection, *, body: bytes) -> Stored:
    """Insert the body unless its SHA-256 is already there; a single statement, safe under concurrency.

    Core on a plain connection, not an ORM session: this is the hot path of every delivery.
    """
    summary = summarize(read(body))
    dialect = connection.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(WebhookEvent)
        .values(
            id=uuid.uuid4(),
            payload=as_text(body),
            sha256=digest(body),
            field=summary.field,
            waba_id=summary.waba_id,
            received_at=utcnow(),
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[WebhookEvent.sha256])
        .returning(WebhookEvent.id)
    )
    event_id = (await connection.execute(statement)).scalar_one_or_none()
    return Stored(event_id=event_id, summary=summary)
