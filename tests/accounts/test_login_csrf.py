"""Login CSRF (ARCHITECTURE §13): a sign-in posted from another site is refused on both login endpoints."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import LoginFailure, User
from qualifica.config import Settings
from tests.support.factories import PASSWORD
from tests.support.rows import count

CROSS_SITE = [
    {"Origin": "https://imobiliaria-do-atacante.example"},
    {"Origin": "null"},  # a sandboxed frame or a data: URL
    {"Sec-Fetch-Site": "cross-site"},  # a browser that left Origin out still says where it comes from
    {"Origin": "http://127.0.0.1:8000.evil.example"},
]


class TestApiLogin:
    @pytest.mark.parametrize("headers", CROSS_SITE)
    async def test_a_cross_site_login_is_refused_before_the_password_is_tried(
        self, client: httpx.AsyncClient, admin_user: User, db: AsyncSession, headers: dict[str, str]
    ) -> None:
        body = {"email": admin_user.email, "password": PASSWORD}
        response = await client.post("/api/v1/auth/login", json=body, headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"
        assert "qualifica_session" not in response.cookies
        assert await count(db, LoginFailure) == 0

    async def test_our_own_origin_and_no_origin_sign_in(
        self, client: httpx.AsyncClient, admin_user: User, settings: Settings
    ) -> None:
        body = {"email": admin_user.email, "password": PASSWORD}
        ours = {"Origin": settings.origin, "Sec-Fetch-Site": "same-origin"}
        assert (await client.post("/api/v1/auth/login", json=body, headers=ours)).status_code == 200
        assert (await client.post("/api/v1/auth/login", json=body)).status_code == 200  # a script, the CLI


class TestFormLogin:
    async def test_a_cross_site_form_post_is_refused_with_the_page(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        form = {"email": admin_user.email, "password": PASSWORD}
        headers = {"Origin": "https://imobiliaria-do-atacante.example", "Accept": "text/html"}
        response = await client.post("/login", data=form, headers=headers)
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("text/html")
        assert "qualifica_session" not in response.cookies

    async def test_a_same_origin_form_post_signs_in(
        self, client: httpx.AsyncClient, admin_user: User, settings: Settings
    ) -> None:
        form = {"email": admin_user.email, "password": PASSWORD}
        headers = {"Origin": settings.origin, "Sec-Fetch-Site": "same-origin"}
        response = await client.post("/login", data=form, headers=headers)
        assert response.status_code == 303 and response.headers["location"] == "/"
        assert "qualifica_session" in response.cookies
