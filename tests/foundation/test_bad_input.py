from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import LoginFailure, Organization, User
from tests.support.accounts import sign_in


class TestBadInput:
    async def test_malformed_json_is_a_400_with_the_error_shape(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/auth/login",
            content=b'{"email": "a@b.c", "password":',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "malformed_json"

    async def test_wrong_types_are_a_422_naming_the_field_but_not_the_value(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/api/v1/auth/login", json={"email": ["x"], "password": "hunter2-secret"}
        )
        assert response.status_code == 422
        body = response.json()["error"]
        assert body["code"] == "invalid_request"
        assert body["fields"][0]["field"] == "email"
        assert "hunter2-secret" not in response.text

    async def test_oversized_body_is_a_413(
        self, client: httpx.AsyncClient, admin_user: User, db: AsyncSession
    ) -> None:
        csrf = await sign_in(client, admin_user)
        huge = '{"name": "' + "x" * 300_000 + '"}'
        response = await client.patch(
            "/api/v1/organization",
            content=huge,
            headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        organization_id = admin_user.organization_id
        db.expire_all()
        assert (await db.get_one(Organization, organization_id)).name == "Imobiliária Horizonte"

    async def test_oversized_streamed_body_without_length_is_a_413(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        csrf = await sign_in(client, admin_user)

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"name": "'
            for _ in range(40):
                yield b"x" * 10_000
            yield b'"}'

        response = await client.patch(
            "/api/v1/organization",
            content=chunks(),
            headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

    async def test_invalid_values_change_nothing(
        self, client: httpx.AsyncClient, admin_user: User, db: AsyncSession
    ) -> None:
        csrf = await sign_in(client, admin_user)
        response = await client.patch(
            "/api/v1/organization", json={"name": ""}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 422
        organization_id = admin_user.organization_id
        db.expire_all()
        assert (await db.get_one(Organization, organization_id)).name == "Imobiliária Horizonte"

    async def test_rejected_login_payload_records_no_failure(self, client: httpx.AsyncClient) -> None:
        await client.post("/api/v1/auth/login", json={"email": 12})
        async with client._transport.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
            assert await session.scalar(select(func.count()).select_from(LoginFailure)) == 0

    async def test_unknown_route_uses_the_error_shape(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/nothing-here")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    async def test_wrong_method_uses_the_error_shape(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/auth/login")
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"
