"""Signing in through the real login endpoint, as a browser would."""

from __future__ import annotations

import httpx

from qualifica.accounts.models import User
from tests.support.factories import PASSWORD


async def sign_in(client: httpx.AsyncClient, user: User, password: str = PASSWORD) -> str:
    """Log in; return the CSRF token (the cookie's value) for state-changing calls."""
    response = await client.post("/api/v1/auth/login", json={"email": user.email, "password": password})
    assert response.status_code == 200, response.text
    return response.cookies["qualifica_csrf"]
