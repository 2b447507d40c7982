"""The ops page over data made by real signups against the live Meta sandbox."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Role, User
from tests.support.factories import make_org, make_user


@pytest.fixture
async def staff(db: AsyncSession) -> User:
    user = await make_user(
        db, await make_org(db, "Qualifica"), role=Role.STAFF, email="suporte@qualifica.test"
    )
    await db.commit()
    return user
