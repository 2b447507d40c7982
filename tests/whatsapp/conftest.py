"""The service under test talks to the live Meta sandbox over a real socket; ``admin`` is the admin user."""

from __future__ import annotations

import pytest

from qualifica.accounts.models import User


@pytest.fixture
def admin(admin_user: User) -> User:
    return admin_user
