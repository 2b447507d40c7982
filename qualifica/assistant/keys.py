"""Service keys (ARCHITECTURE §15): ``qk_`` + 43 random characters, shown once; only the SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization
from qualifica.assistant.models import ServiceKey
from qualifica.audit import record
from qualifica.db import utcnow
from qualifica.errors import InvalidRequest, NotFound

KEY_PREFIX = "qk_"
KEY_RANDOM_BYTES = 32  # token_urlsafe(32): 43 characters


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)


def digest_of(key: str) -> str:
    """The key's SHA-256 (hex): a 256-bit random key needs no slow hash, and a lookup stays one index hit."""
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(value: str) -> bool:
    return value.startswith(KEY_PREFIX) and 40 <= len(value) - len(KEY_PREFIX) <= 200


@dataclass(frozen=True)
class CreatedKey:
    id: uuid.UUID
    key: str  # shown once, never stored


async def create_key(session: AsyncSession, *, name: str, organization_id: uuid.UUID | None) -> CreatedKey:
    name = name.strip()
    if not name or len(name) > 128:
        raise InvalidRequest("O nome da chave deve ter de 1 a 128 caracteres.")
    if organization_id is not None and await session.get(Organization, organization_id) is None:
        raise NotFound("Organização não encontrada.")
    key = new_key()
    row = ServiceKey(name=name, organization_id=organization_id, digest=digest_of(key))
    session.add(row)
    await session.flush()
    await record(
        session,
        organization_id=organization_id,
        action="assistant.key_created",
        status="ok",
        details={"key_id": str(row.id), "name": name},
    )
    return CreatedKey(row.id, key)


async def list_keys(session: AsyncSession) -> list[ServiceKey]:
    return list(await session.scalars(select(ServiceKey).order_by(ServiceKey.created_at, ServiceKey.id)))


async def revoke_key(session: AsyncSession, key_id: uuid.UUID) -> ServiceKey:
    row = await session.get(ServiceKey, key_id)
    if row is None:
        raise NotFound("Chave não encontrada.")
    if row.revoked_at is None:
        await session.execute(update(ServiceKey).where(ServiceKey.id == key_id).values(revoked_at=utcnow()))
        await record(
            session,
            organization_id=row.organization_id,
            action="assistant.key_revoked",
            status="ok",
            details={"key_id": str(row.id)},
        )
        await session.refresh(row)
    return row
