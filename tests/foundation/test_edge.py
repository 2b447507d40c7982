"""The edge (ARCHITECTURE §13): a NUL character in any input is a 422, and every answer — 4xx and 500s
included — carries the security headers."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import LoginFailure, Organization, User
from qualifica.whatsapp.models import ConnectionStatus
from tests.support.accounts import ORGANIZATION_NAME, sign_in
from tests.support.connections import make_connection, reload
from tests.support.rows import count

SECURITY_HEADERS = (
    "content-security-policy",
    "cross-origin-opener-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "permissions-policy",
)
NUL_MESSAGE = "Os dados enviados contêm um caractere nulo (NUL), que não é aceito."


def assert_nul_rejected(response: httpx.Response, where: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"] == NUL_MESSAGE
    assert error["fields"] == [{"field": where, "reason": "contains a NUL character"}]


def assert_secured(response: httpx.Response) -> None:
    missing = [name for name in SECURITY_HEADERS if name not in response.headers]
    assert not missing, f"{response.status_code} without {missing}"


class TestNulCharacter:
    async def test_login_form_field(
        self, client: httpx.AsyncClient, db: AsyncSession, admin_user: User
    ) -> None:
        response = await client.post(
            "/login",
            data={"email": "admin\x00@horizonte.com.br", "password": "x"},
            headers={"accept": "text/html"},
        )
        assert response.status_code == 422
        assert "caractere nulo" in response.text  # the page, in the layout
        assert_secured(response)
        assert await count(db, LoginFailure) == 0

    async def test_login_json(self, client: httpx.AsyncClient, db: AsyncSession) -> None:
        response = await client.post("/api/v1/auth/login", json={"email": "a\x00@b.c", "password": "x"})
        assert_nul_rejected(response, "body")
        assert await count(db, LoginFailure) == 0

    async def test_json_key(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/auth/login", json={"email": "a@b.c", "pass\x00word": "x"})
        assert_nul_rejected(response, "body")

    async def test_organization_rename_changes_nothing(
        self, client: httpx.AsyncClient, db: AsyncSession, admin_user: User
    ) -> None:
        organization_id = admin_user.organization_id
        csrf = await sign_in(client, admin_user)
        response = await client.patch(
            "/api/v1/organization", json={"name": "Horizonte\x00"}, headers={"X-CSRF-Token": csrf}
        )
        assert_nul_rejected(response, "body")
        db.expire_all()
        assert (await db.get_one(Organization, organization_id)).name == ORGANIZATION_NAME

    async def test_whatsapp_disconnect_reason_changes_nothing(
        self, client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, admin_user: User
    ) -> None:
        organization = await db.get_one(Organization, admin_user.organization_id)
        connection = await make_connection(db, app, waba_id="5550001", organization=organization)
        csrf = await sign_in(client, admin_user)
        response = await client.post(
            "/api/v1/whatsapp/connection/disconnect",
            json={"reason": "mudamos de número\x00"},
            headers={"X-CSRF-Token": csrf},
        )
        assert_nul_rejected(response, "body")
        assert (await reload(db, connection)).status is ConnectionStatus.ACTIVE

    async def test_whatsapp_error_report(self, client: httpx.AsyncClient, admin_user: User) -> None:
        csrf = await sign_in(client, admin_user)
        response = await client.post(
            "/api/v1/whatsapp/embedded-signup/error",
            json={"state": "s", "error_code": "2494028", "error_message": "falhou\x00"},
            headers={"X-CSRF-Token": csrf},
        )
        assert_nul_rejected(response, "body")

    async def test_query(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/api/v1/whatsapp/webhook?hub.mode=subscribe&hub.verify_token=a%00&hub.challenge=1"
        )
        assert_nul_rejected(response, "query")
        assert_secured(response)

    async def test_path(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/organization%00")
        assert_nul_rejected(response, "path")
        assert_secured(response)

    @pytest.mark.parametrize(
        "name",
        [
            "C:\\u0000",  # a backslash and the letters u0000: no NUL
            "100%00 garantido",  # %00 is text in JSON
        ],
    )
    async def test_text_that_only_looks_like_nul_is_accepted(
        self, client: httpx.AsyncClient, admin_user: User, name: str
    ) -> None:
        csrf = await sign_in(client, admin_user)
        content = json.dumps({"name": name})
        response = await client.patch(
            "/api/v1/organization",
            content=content,
            headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["name"] == name


class TestSecurityHeadersOnEveryAnswer:
    @pytest.fixture
    def failing_app(self, app: FastAPI) -> FastAPI:
        async def boom() -> None:
            raise RuntimeError("an unexpected failure quoting 5511987650001")

        app.add_api_route("/api/v1/test-only/boom", boom)
        app.add_api_route("/test-only/boom", boom)
        return app

    async def test_unhandled_500_json(self, failing_app: FastAPI, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/test-only/boom")
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"
        assert_secured(response)

    async def test_unhandled_500_page(self, failing_app: FastAPI, client: httpx.AsyncClient) -> None:
        response = await client.get("/test-only/boom", headers={"accept": "text/html"})
        assert response.status_code == 500
        assert response.headers["content-type"].startswith("text/html")
        assert_secured(response)

    async def test_unhandled_500_is_logged_without_its_message(
        self, failing_app: FastAPI, client: httpx.AsyncClient, captured_logs: io.StringIO
    ) -> None:
        await client.get("/api/v1/test-only/boom")
        lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
        logged = [line for line in lines if line["event"] == "unhandled_error"]
        assert [line["error_type"] for line in logged] == ["RuntimeError"]
        assert any("boom" in frame for frame in logged[0]["frames"])  # where it was raised
        assert "5511987650001" not in captured_logs.getvalue()

    async def test_404_405_and_422(self, client: httpx.AsyncClient) -> None:
        answers = [
            await client.get("/api/v1/nothing-here"),
            await client.get("/nothing-here", headers={"accept": "text/html"}),
            await client.get("/api/v1/auth/login"),
            await client.post("/api/v1/auth/login", json={"email": 1}),
            await client.post("/api/v1/auth/login", json={"email": "a\x00", "password": "x"}),
        ]
        assert [answer.status_code for answer in answers] == [404, 404, 405, 422, 422]
        for answer in answers:
            assert_secured(answer)
