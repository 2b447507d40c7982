"""Tables of the assistant's interface (ARCHITECTURE §15): service keys, service windows, sent messages and
the per-number send slots that keep Meta's throughput across processes."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from qualifica.db import Base, UUIDPk, str_enum, utcnow
from qualifica.jobs.leases import Retried


class ServiceKey(UUIDPk, Base):
    """A key another service of ours (the assistant) calls the API with. Only its SHA-256 is kept."""

    __tablename__ = "assistant_service_keys"

    name: Mapped[str] = mapped_column(String(128))
    # Bound: the key acts for this organization only. None: each call names the organization.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the whole key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ServiceWindow(UUIDPk, Base):
    """When a lead last wrote to one of our numbers: free text may be sent for 24 h after it (§15)."""

    __tablename__ = "assistant_service_windows"
    __table_args__ = (
        UniqueConstraint(
            "organization_id", "phone_number_id", "wa_id", name="uq_assistant_service_windows_lead"
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    phone_number_id: Mapped[str] = mapped_column(String(64))
    wa_id: Mapped[str] = mapped_column(String(32))
    last_inbound_at: Mapped[datetime]


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class OutboundMessage(UUIDPk, Retried, Base):
    """One message the assistant (or the settings page's test) asked us to send, and what became of it."""

    __tablename__ = "assistant_messages"
    __table_args__ = (
        UniqueConstraint("organization_id", "idempotency_key"),
        # The worker's queue: the queued messages of each number, oldest first.
        Index(
            "ix_assistant_messages_queued",
            "phone_number_id",
            "created_at",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    phone_number_id: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(32))  # ``to``: the lead's wa_id
    kind: Mapped[str] = mapped_column(String(16))  # text | template
    # Meta's body as it is (or was) sent; kept while the message may still be sent (cleared once settled).
    body: Mapped[dict[str, Any] | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_digest: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the canonical request
    source: Mapped[str] = mapped_column(String(16), default="api")  # api | test (the settings page)
    status: Mapped[MessageStatus] = mapped_column(str_enum(MessageStatus, "assistant_message_status"))
    wamid: Mapped[str | None] = mapped_column(String(128), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    history: Mapped[list[Any]] = mapped_column(default=list)  # [{status, at}], oldest first
    # The first answer (status code and body), replayed to a request with the same Idempotency-Key.
    response_status: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When it joined its number's queue (answered 202); None while an API call is sending it inline.
    queued_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SendSlot(Base):
    """A number's next free send moment (µs since the epoch): claimed with one UPDATE … RETURNING, so every
    process and worker shares the number's throughput."""

    __tablename__ = "assistant_send_slots"

    phone_number_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_free_us: Mapped[int] = mapped_column(BigInteger, default=0)
