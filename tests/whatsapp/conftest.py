"""The service under test talks to the live Meta sandbox over a real socket; ``admin`` is the admin user and
``browser`` the admin's signed-in client."""

from __future__ import annotations

import httpx
import pytest

from qualifica.accounts.models import User
from tests.support.accounts import sign_in
from tests.support.signup import Browser


@pytest.fixture
def admin(admin_user: User) -> User:
    return admin_user


@pytest.fixture
async def browser(client: httpx.AsyncClient, admin: User) -> Browser:
    return Browser(client, await sign_in(client, admin))
