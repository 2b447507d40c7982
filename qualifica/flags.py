"""Feature flags stored in ``feature_flags``: a global default, per-organization overrides, a percentage."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
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


def rollout_bucket(key: str, organization_id: uuid.UUID) -> int:
    """A stable 0–99 bucket per flag and organization: the same answer on every process, forever."""
    digest = hashlib.sha256(f"{key}:{organization_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100


async def flag_enabled(session: AsyncSession, key: str, *, organization_id: uuid.UUID, default: bool) -> bool:
    """Organization override, then the percentage (when the organization is inside it), then the default."""
    rows = (
        await session.scalars(
            select(FeatureFlag).where(
                FeatureFlag.key == key,
                or_(FeatureFlag.organization_id == organization_id, FeatureFlag.organization_id.is_(None)),
            )
        )
    ).all()
    override = next((r for r in rows if r.organization_id is not None and r.enabled is not None), None)
    if override is not None:
        return bool(override.enabled)
    global_row = next((r for r in rows if r.organization_id is None), None)
    if global_row is None:
        return default
    percent = global_row.rollout_percent
    if percent is not None and rollout_bucket(key, organization_id) < percent:
        return True
    return default if global_row.enabled is None else global_row.enabled
