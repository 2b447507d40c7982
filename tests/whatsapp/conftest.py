"""The service under test talks to the live Meta sandbox over a real socket."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Role, User
from tests.support.factories import make_org, make_user


@pytest.fixture
async def admin(db: AsyncSession) -> User:
    user = await make_user(db, await make_org(db, "Imobiliária Horizonte"), role=Role.ADMIN)
    await db.commit()
    return user
