"""Small async factories for rows the tests need."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.accounts.service import create_organization, create_user

PASSWORD = "senha-muito-secreta-42"


async def make_org(session: AsyncSession, name: str = "Imobiliária Teste") -> Organization:
    return await create_organization(session, name=name)


async def make_user(
    session: AsyncSession, organization: Organization, *, role: Role = Role.ADMIN, email: str | None = None
) -> User:
    email = email or f"{role.value}.{organization.id.hex[:8]}@example.com"
    return await create_user(
        session, organization_id=organization.id, email=email, role=role, password=PASSWORD
    )
