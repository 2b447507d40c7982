"""Small async factories for rows the tests need."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.accounts.service import create_organization, create_user
from qualifica.security.passwords import hash_password_sync

PASSWORD = "senha-muito-secreta-42"
_HASH: list[str] = []


async def make_org(session: AsyncSession, name: str = "Imobiliária Teste") -> Organization:
    return await create_organization(session, name=name)


async def make_user(
    session: AsyncSession, organization: Organization, *, role: Role = Role.ADMIN, email: str | None = None
) -> User:
    email = email or f"{role.value}.{organization.id.hex[:8]}@example.com"
    return await create_user(
        session, organization_id=organization.id, email=email, role=role, password=PASSWORD
    )


def password_hash() -> str:
    """One argon2 hash of ``PASSWORD`` for every cheap user (hashing 200 times would cost a minute)."""
    if not _HASH:
        _HASH.append(hash_password_sync(PASSWORD))
    return _HASH[0]


async def add_user(
    session: AsyncSession, *, role: Role = Role.ADMIN, organization: Organization | None = None
) -> User:
    """A user (in a new organization unless given) without hashing a password: for tests that need many."""
    if organization is None:
        organization = Organization(id=uuid.uuid4(), name=f"Imobiliária {uuid.uuid4().hex[:6]}")
        session.add(organization)
    user = User(
        id=uuid.uuid4(),
        organization_id=organization.id,
        email=f"{role.value}-{uuid.uuid4().hex[:10]}@example.com",
        role=role,
        password_hash=password_hash(),
    )
    session.add(user)
    await session.flush()
    return user
