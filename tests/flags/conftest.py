"""The service under test talks to the live Meta sandbox over a real socket."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Role, User
from qualifica.config import Settings
from tests.foundation.helpers import sign_in
from tests.observability.signup import Admin
from tests.support.factories import make_org, make_user
from tests.support.sandbox import LiveSandbox


@pytest.fixture
def settings(settings: Settings, live_sandbox: LiveSandbox) -> Settings:
    return settings.model_copy(update={"meta_graph_url": live_sandbox.url})


@pytest.fixture
async def admin_user(db: AsyncSession) -> User:
    user = await make_user(db, await make_org(db, "Imobiliária Horizonte"), role=Role.ADMIN)
    await db.commit()
    return user


@pytest.fixture
async def admin(client: httpx.AsyncClient, admin_user: User) -> Admin:
    return Admin(client, await sign_in(client, admin_user))
