"""The ops page over data made by real signups against the live Meta sandbox."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.meta.sandbox import Sandbox
from tests.foundation.helpers import sign_in
from tests.support.factories import make_org, make_user
from tests.support.signup import Browser


@pytest.fixture
async def organization(db: AsyncSession) -> Organization:
    organization = await make_org(db, "Imobiliária Horizonte")
    await db.commit()
    return organization


@pytest.fixture
async def staff(db: AsyncSession) -> User:
    user = await make_user(
        db, await make_org(db, "Qualifica"), role=Role.STAFF, email="suporte@qualifica.test"
    )
    await db.commit()
    return user


@pytest.fixture
async def admin_user(db: AsyncSession, organization: Organization) -> User:
    user = await make_user(db, organization, role=Role.ADMIN)
    await db.commit()
    return user


async def make_history(app_client: httpx.AsyncClient, admin_user: User, sandbox: Sandbox) -> None:
    """One completed signup, one cancelled in the phone step, one failed at the code exchange."""
    admin = Browser(app_client, await sign_in(app_client, admin_user))
    assert (await admin.cancel("PHONE_NUMBER_SETUP")).status_code == 204
    sandbox.fail_next("oauth_access_token", code=100, message="(#100) Invalid parameter")
    assert (await admin.connect(sandbox)).status_code == 502
    assert (await admin.connect(sandbox)).status_code == 200
    app_client.cookies.clear()
