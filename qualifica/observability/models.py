"""Product analytics events: always stored here, delivered to Segment by the worker when configured."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from qualifica.db import Base, UUIDPk, utcnow


class AnalyticsEvent(UUIDPk, Base):
    """``id`` doubles as Segment's ``messageId``, so a redelivery is deduplicated downstream."""

    __tablename__ = "analytics_events"
    __table_args__ = (
        # The delivery job's queue: only the events still to deliver, oldest first.
        Index(
            "ix_analytics_events_undelivered",
            "occurred_at",
            postgresql_where=text("delivered_at IS NULL"),
            sqlite_where=text("delivered_at IS NULL"),
        ),
    )

    name: Mapped[str] = mapped_column(String(64), index=True)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    properties: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    delivered_at: Mapped[datetime | None]
    delivery_attempts: Mapped[int] = mapped_column(default=0)
    delivery_error: Mapped[str | None] = mapped_column(Text)
    # Not before this time: a claim by a worker (short lease) or the backoff after a failed delivery.
    next_attempt_at: Mapped[datetime | None]
