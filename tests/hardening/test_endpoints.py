"""§13: ``/metrics`` behind its bearer token, the API description staff only in production."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Role
from qualifica.app import create_app
from qualifica.config import Environment, Settings
from tests.support.accounts import sign_in
from tests.support.factories import add_user, make_org, make_user

TOKEN = "scrape-token-5d0c3e7a91"


async def _client(settings: Settings, base_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    application = create_app(settings, configure_logs=False)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            yield application, http


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for _, http in _client(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}), "http://t"):
        yield http


@pytest.fixture
async def production(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Production's app (Secure cookies: the client speaks https)."""
    update = {"environment": Environment.PRODUCTION, "base_url": "https://app.qualifica.example"}
    async for pair in _client(settings.model_copy(update=update), "https://app.qualifica.example"):
        yield pair


class TestMetricsToken:
    async def test_the_right_bearer_token_scrapes(self, guarded: httpx.AsyncClient) -> None:
        response = await guarded.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert "qualifica_whatsapp_connections" in response.text

    @pytest.mark.parametrize(
        "authorization",
        [None, "", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"bearer{TOKEN}", TOKEN, "Basic dTpw"],
    )
    async def test_anything_else_gets_401_in_the_error_envelope(
        self, guarded: httpx.AsyncClient, authorization: str | None
    ) -> None:
        headers = {"Authorization": authorization} if authorization is not None else {}
        response = await guarded.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in response.text
        assert response.headers["x-content-type-options"] == "nosniff"

    async def test_a_browser_gets_the_error_page_not_the_login_redirect(
        self, guarded: httpx.AsyncClient
    ) -> None:
        response = await guarded.get("/metrics", headers={"Accept": "text/html"})
        assert response.status_code == 401

    async def test_without_a_token_configured_metrics_stay_open(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/metrics")).status_code == 200


class TestDocsInProduction:
    @pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc"])
    async def test_signed_out_gets_401(
        self, production: tuple[FastAPI, httpx.AsyncClient], path: str
    ) -> None:
        _, http = production
        response = await http.get(path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"

    @pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
    async def test_an_organizations_user_gets_403(
        self, production: tuple[FastAPI, httpx.AsyncClient], db: AsyncSession, role: Role
    ) -> None:
        _, http = production
        user = await make_user(db, await make_org(db), role=role)
        await db.commit()
        await sign_in(http, user)
        for path in ("/openapi.json", "/docs", "/redoc"):
            response = await http.get(path)
            assert response.status_code == 403, path
            assert response.json()["error"]["code"] == "forbidden"

    async def test_staff_read_the_description_and_its_pages(
        self, production: tuple[FastAPI, httpx.AsyncClient], db: AsyncSession
    ) -> None:
        _, http = production
        staff = await make_user(db, await make_org(db, "Qualifica"), role=Role.STAFF)
        await db.commit()
        await sign_in(http, staff)
        spec = await http.get("/openapi.json")
        assert spec.status_code == 200
        assert "/api/v1/whatsapp/webhook" in spec.json()["paths"]
        page = await http.get("/docs", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "/openapi.json" in page.text
        assert "unsafe-inline" in page.headers["content-security-policy"]  # Swagger UI's own policy
        assert (await http.get("/redoc")).status_code == 200

    async def test_a_signed_out_browser_is_sent_to_login(
        self, production: tuple[FastAPI, httpx.AsyncClient]
    ) -> None:
        _, http = production
        response = await http.get("/docs", headers={"Accept": "text/html"})
        assert response.status_code == 303 and response.headers["location"] == "/login"


class TestDocsElsewhere:
    async def test_development_keeps_them_public(self, client: httpx.AsyncClient, db: AsyncSession) -> None:
        await add_user(db)  # a database in use, nobody signed in
        await db.commit()
        assert (await client.get("/openapi.json")).status_code == 200
        assert (await client.get("/docs")).status_code == 200
