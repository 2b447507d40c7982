"""Signed-in users: an organization with its admin, a login through the real endpoint, or session cookies
minted with the service's own codec when a test needs many users."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.accounts.sessions import open_session
from qualifica.config import Settings
from qualifica.db import create_engine, create_sessionmaker
from qualifica.security.sessions import CSRF_COOKIE, SESSION_COOKIE, SessionCodec
from tests.support.factories import PASSWORD, make_org, make_user

ORGANIZATION_NAME = "Imobiliária Horizonte"


@pytest.fixture
async def organization(db: AsyncSession) -> Organization:
    organization = await make_org(db, ORGANIZATION_NAME)
    await db.commit()
    return organization


@pytest.fixture
async def admin_user(db: AsyncSession, organization: Organization) -> User:
    user = await make_user(db, organization, role=Role.ADMIN)
    await db.commit()
    return user


async def sign_in(client: httpx.AsyncClient, user: User, password: str = PASSWORD) -> str:
    """Log in as a browser would; return the CSRF token (the cookie's value) for state-changing calls."""
    response = await client.post("/api/v1/auth/login", json={"email": user.email, "password": password})
    assert response.status_code == 200, response.text
    return response.cookies[CSRF_COOKIE]


@dataclass(frozen=True)
class Credentials:
    cookies: dict[str, str]
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}


async def credentials(settings: Settings, user: User) -> Credentials:
    """The cookies a login would set: a session opened in the database with the service's own codec (no
    argon2 per user)."""
    codec = SessionCodec(settings.require_secret_key())
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            cookie, data = await open_session(session, codec, user)
            await session.commit()
    finally:
        await engine.dispose()
    csrf = codec.csrf_token(data)
    return Credentials({SESSION_COOKIE: cookie, CSRF_COOKIE: csrf}, csrf)
