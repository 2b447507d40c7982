"""Changing feature flags (CLI and ops page alike): validated, audited, and seen by this process at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica import audit
from qualifica.accounts.models import Organization
from qualifica.errors import AppError
from qualifica.flags import KNOWN_FLAGS, FeatureFlag, invalidate_cache

AUDIT_ACTION = "feature_flag.changed"


class FlagChangeRejected(AppError):
    code, status = "invalid_flag_change", 422
    message = "Alteração inválida da liberação gradual."


@dataclass(frozen=True)
class Actor:
    """Who changed a flag: a staff user on the ops page, or the CLI's operating-system user."""

    label: str
    user_id: uuid.UUID | None = None


@dataclass(frozen=True)
class FlagRow:
    key: str
    organization_id: uuid.UUID | None
    organization_name: str | None
    enabled: bool | None
    rollout_percent: int | None
    updated_at: datetime
    updated_by: str | None


def _known(key: str) -> str:
    if key not in KNOWN_FLAGS:
        raise FlagChangeRejected(f"liberação desconhecida: {key} (conhecidas: {', '.join(KNOWN_FLAGS)})")
    return key


async def _row(session: AsyncSession, key: str, organization_id: uuid.UUID | None) -> FeatureFlag | None:
    scope = (
        FeatureFlag.organization_id.is_(None)
        if organization_id is None
        else FeatureFlag.organization_id == organization_id
    )
    return await session.scalar(select(FeatureFlag).where(FeatureFlag.key == key, scope).with_for_update())


async def _upsert(
    session: AsyncSession, key: str, organization_id: uuid.UUID | None, actor: Actor
) -> FeatureFlag:
    if organization_id is not None and await session.get(Organization, organization_id) is None:
        raise FlagChangeRejected(f"organização não encontrada: {organization_id}")
    row = await _row(session, key, organization_id)
    if row is None:
        row = FeatureFlag(key=key, organization_id=organization_id)
        session.add(row)
    row.updated_by = actor.label
    return row


async def _audit(session: AsyncSession, row: FeatureFlag, actor: Actor, change: str) -> None:
    await session.flush()
    await audit.record(
        session,
        organization_id=row.organization_id,
        actor_user_id=actor.user_id,
        action=AUDIT_ACTION,
        status="success",
        details={
            "key": row.key,
            "change": change,
            "scope": "organization" if row.organization_id else "global",
            "enabled": row.enabled,
            "rollout_percent": row.rollout_percent,
            "by": actor.label,
        },
    )
    invalidate_cache()


async def set_enabled(
    session: AsyncSession, key: str, *, enabled: bool, organization_id: uuid.UUID | None, actor: Actor
) -> FeatureFlag:
    """The global default (``organization_id`` None) or one organization's override."""
    row = await _upsert(session, _known(key), organization_id, actor)
    row.enabled = enabled
    await _audit(session, row, actor, "on" if enabled else "off")
    return row


async def set_percent(session: AsyncSession, key: str, *, percent: int, actor: Actor) -> FeatureFlag:
    """On for the organizations whose stable bucket (0–99) is below ``percent``."""
    if not 0 <= percent <= 100:
        raise FlagChangeRejected("a porcentagem deve estar entre 0 e 100")
    row = await _upsert(session, _known(key), None, actor)
    row.rollout_percent = percent
    await _audit(session, row, actor, f"percent={percent}")
    return row


async def clear(
    session: AsyncSession, key: str, *, organization_id: uuid.UUID | None, percent: bool, actor: Actor
) -> bool:
    """Remove an organization's override, the percentage, or the global on/off. False if nothing was set."""
    if percent and organization_id is not None:
        raise FlagChangeRejected("a porcentagem vale para todas as organizações: use --percent sem --org")
    row = await _row(session, _known(key), organization_id)
    if row is None or (percent and row.rollout_percent is None):
        return False
    if organization_id is not None:
        row.enabled = None
    elif percent:
        row.rollout_percent = None
    else:
        row.enabled = None
    row.updated_by = actor.label
    await _audit(session, row, actor, "clear percent" if percent else "clear")
    if row.enabled is None and row.rollout_percent is None:
        await session.delete(row)
        await session.flush()
    return True


async def list_flags(session: AsyncSession) -> list[FlagRow]:
    """Every stored setting: global rows first, then organizations by name."""
    rows = await session.execute(
        select(FeatureFlag, Organization.name)
        .outerjoin(Organization, Organization.id == FeatureFlag.organization_id)
        .order_by(FeatureFlag.key, FeatureFlag.organization_id.is_not(None), Organization.name)
    )
    return [
        FlagRow(
            key=flag.key,
            organization_id=flag.organization_id,
            organization_name=name,
            enabled=flag.enabled,
            rollout_percent=flag.rollout_percent,
            updated_at=flag.updated_at,
            updated_by=flag.updated_by,
        )
        for flag, name in rows
    ]
