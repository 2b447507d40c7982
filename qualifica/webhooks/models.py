"""The webhook inbox (raw bodies, deduplicated) and the changes split out of each body, which the worker
routes, leases and retries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qualifica.db import Base, UUIDPk
from qualifica.jobs.leases import Retried


class WebhookEvent(UUIDPk, Retried, Base):
    """The webhook inbox: raw bodies stored before any parsing, deduplicated by their SHA-256."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_pending", "processed_at", "next_attempt_at"),)

    payload: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    field: Mapped[str | None] = mapped_column(String(64))
    waba_id: Mapped[str | None] = mapped_column(String(64), index=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    outcome: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class WebhookChange(UUIDPk, Retried, Base):
    """One `entry[].changes[]` item of a `webhook_events` body, kept whatever its outcome.

    `outcome` is NULL while pending, `retry` after a failed attempt that will run again, and
    `processed`, `unmatched` (no connection for the WABA) or `failed` (gave up) once settled.
    Rows of field `messages` are what the lead-qualification assistant reads.
    """

    __tablename__ = "webhook_changes"
    __table_args__ = (
        UniqueConstraint("event_id", "position"),
        Index("ix_webhook_changes_pending", "processed_at", "next_attempt_at"),
        Index("ix_webhook_changes_org_field", "organization_id", "field"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    position: Mapped[int]  # order inside the body: entries, then their changes
    field: Mapped[str] = mapped_column(String(64))
    entry_id: Mapped[str | None] = mapped_column(String(64))
    waba_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the routing key
    occurred_at: Mapped[datetime | None]  # entry.time, when Meta sends it
    value: Mapped[dict[str, Any]]
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL")
    )
    outcome: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
