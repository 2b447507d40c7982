"""The assistant's events (ARCHITECTURE §15): what happened through an organization's connection, in order.

Every event is written in the transaction of what caused it (a webhook change settling, a connection's
status changing), once: a unique key per event (a message's wamid, a status per wamid, a sync's content)
turns Meta's redeliveries — it retries for days — into nothing. The cursor is a per-organization sequence
taken under a row lock on the organization's counter, held to the commit, so within one organization the
sequence order is the commit order and a reader walking ``seq > cursor`` never skips an event committed
late. (The model lives in the whatsapp domain because connection status changes write events here; the
reading, pushing and serving is ``qualifica.assistant``'s.)
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from qualifica.db import Base, UUIDPk, utcnow
from qualifica.observability import assistant_metrics

SeqType = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: INTEGER, its 64-bit integer


class EventType(StrEnum):
    MESSAGE_RECEIVED = "message.received"
    MESSAGE_STATUS = "message.status"
    MESSAGE_ECHO = "message.echo"
    CONTACTS_SYNCED = "contacts.synced"
    HISTORY_SYNCED = "history.synced"
    CONNECTION_STATUS_CHANGED = "connection.status_changed"


class AssistantEvent(UUIDPk, Base):
    __tablename__ = "assistant_events"
    __table_args__ = (
        UniqueConstraint("organization_id", "seq", name="uq_assistant_events_seq"),
        UniqueConstraint("organization_id", "dedupe_key", name="uq_assistant_events_dedupe"),
        Index("ix_assistant_events_pushed", "organization_id", "seq", "pushed_at"),
        Index("ix_assistant_events_media", "organization_id", "media_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(SeqType)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]]
    dedupe_key: Mapped[str] = mapped_column(String(200))
    pushed_at: Mapped[datetime | None]  # delivered to QUALIFICA_ASSISTANT_WEBHOOK_URL
    media_id: Mapped[str | None] = mapped_column(String(64))  # a received file: what GET /media serves


class EventCounter(Base):
    """Each organization's last sequence number: the row lock that orders its events."""

    __tablename__ = "assistant_event_counters"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(SeqType, default=0)
    # The push to the assistant (``assistant.push``): one runner per organization at a time keeps its order.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    push_attempts: Mapped[int] = mapped_column(Integer, default=0)
    push_next_at: Mapped[datetime | None]
    push_error: Mapped[str | None] = mapped_column(String(200))


def content_key(prefix: str, value: Any) -> str:
    """A key for an event without an id of its own (a sync chunk): its content's digest."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
    return f"{prefix}:{digest}"


async def _next_seq(session: AsyncSession, organization_id: uuid.UUID) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(EventCounter)
        .values(organization_id=organization_id, last_seq=0, push_attempts=0)
        .on_conflict_do_nothing()
    )
    seq = await session.scalar(
        update(EventCounter)
        .where(EventCounter.organization_id == organization_id)
        .values(last_seq=EventCounter.last_seq + 1)
        .returning(EventCounter.last_seq)
    )
    assert seq is not None
    return int(seq)


async def append(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    type: EventType,
    occurred_at: datetime,
    data: dict[str, Any],
    dedupe_key: str,
    media_id: str | None = None,
) -> bool:
    """Record the event unless one with this key exists; True when new. Flushes; the caller commits."""
    key = dedupe_key[:200]
    known = select(AssistantEvent.id).where(
        AssistantEvent.organization_id == organization_id, AssistantEvent.dedupe_key == key
    )
    if await session.scalar(known) is not None:
        return False
    event = AssistantEvent(
        id=uuid.uuid4(),
        organization_id=organization_id,
        seq=await _next_seq(session, organization_id),
        type=type.value,
        occurred_at=occurred_at,
        data=data,
        dedupe_key=key,
        media_id=media_id[:64] if media_id else None,
    )
    try:
        async with session.begin_nested():
            session.add(event)
            await session.flush()
    except IntegrityError:  # another worker wrote the same event first (it commits; we skip)
        return False
    assistant_metrics.event_written(type.value)
    return True


async def connection_changed(
    session: AsyncSession, *, organization_id: uuid.UUID, status: str, error_code: str | None, at: datetime
) -> None:
    """``connection.status_changed``, in the transaction of the change itself."""
    await append(
        session,
        organization_id=organization_id,
        type=EventType.CONNECTION_STATUS_CHANGED,
        occurred_at=at,
        data={"status": status, "error_code": error_code},
        dedupe_key=f"connection:{status}:{at.isoformat()}",
    )


async def last_received(session: AsyncSession, organization_id: uuid.UUID) -> AssistantEvent | None:
    """The newest ``message.received`` of the organization (the connected card shows it)."""
    return await session.scalar(
        select(AssistantEvent)
        .where(
            AssistantEvent.organization_id == organization_id,
            AssistantEvent.type == EventType.MESSAGE_RECEIVED.value,
        )
        .order_by(AssistantEvent.seq.desc())
        .limit(1)
    )


PLACEHOLDERS = {
    "image": "[imagem]",
    "audio": "[áudio]",
    "video": "[vídeo]",
    "document": "[documento]",
    "location": "[localização]",
    "sticker": "[figurinha]",
    "contacts": "[contato]",
}


def described(event: AssistantEvent, when: str) -> str:
    """ "“Olá, vi o anúncio…” — de Maria (5511…), 05/12 10:42": what the card says of a received message."""
    data = event.data
    text = data.get("text") or PLACEHOLDERS.get(str(data.get("type")), "[mensagem]")
    text = text if len(text) <= 80 else text[:79] + "…"
    who = data.get("profile_name") or data.get("from") or "um contato"
    number = f" ({data.get('from')})" if data.get("profile_name") and data.get("from") else ""
    return f"“{text}” — de {who}{number}, {when}"
