"""Feature flags stored in ``feature_flags``: a global default, per-organization overrides, a percentage."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from qualifica.db import Base, UUIDPk, utcnow

WHATSAPP_EMBEDDED_SIGNUP = "whatsapp_embedded_signup_enabled"


class FeatureFlag(UUIDPk, Base):
    """A row with ``organization_id`` NULL holds the global default and the rollout percentage."""

    __tablename__ = "feature_flags"
    __table_args__ = (
        Index(
            "uq_feature_flags_key_org",
            "key",
            "organization_id",
            unique=True,
            postgresql_where=text("organization_id IS NOT NULL"),
            sqlite_where=text("organization_id IS NOT NULL"),
        ),
        Index(
            "uq_feature_flags_key_global",
            "key",
            unique=True,
            postgresql_where=text("organization_id IS NULL"),
            sqlite_where=text("organization_id IS NULL"),
        ),
    )

    key: Mapped[str] = mapped_column(String(128))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    enabled: Mapped[bool | None]
    rollout_percent: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(320))
