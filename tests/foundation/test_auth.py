from __future__ import annotations

import httpx
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import LoginFailure, Organization, Role, User
from qualifica.db import utcnow
from tests.support.accounts import sign_in
from tests.support.factories import PASSWORD, make_org, make_user


class TestLogin:
    async def test_good_credentials_set_session_and_csrf_cookies(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        response = await client.post(
            "/api/v1/auth/login", json={"email": admin_user.email.upper(), "password": PASSWORD}
        )
        assert response.status_code == 200
        assert response.json()["email"] == admin_user.email
        cookies = response.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookies if c.startswith("qualifica_session="))
        csrf_cookie = next(c for c in cookies if c.startswith("qualifica_csrf="))
        assert "HttpOnly" in session_cookie and "samesite=lax" in session_cookie.lower()
        assert "HttpOnly" not in csrf_cookie

    async def test_bad_password_is_refused(self, client: httpx.AsyncClient, admin_user: User) -> None:
        response = await client.post(
            "/api/v1/auth/login", json={"email": admin_user.email, "password": "wrong"}
        )
        assert response.status_code == 401
        assert response.json() == {
            "error": {"code": "invalid_credentials", "message": "E-mail ou senha incorretos."}
        }
        assert "qualifica_session" not in response.cookies

    async def test_unknown_email_gets_the_same_answer(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x"}
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_credentials"

    async def test_sixth_attempt_within_five_minutes_is_throttled(
        self, client: httpx.AsyncClient, admin_user: User, db: AsyncSession
    ) -> None:
        for _ in range(5):
            response = await client.post(
                "/api/v1/auth/login", json={"email": admin_user.email, "password": "wrong"}
            )
            assert response.status_code == 401
        response = await client.post(
            "/api/v1/auth/login", json={"email": admin_user.email, "password": PASSWORD}
        )
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "too_many_attempts"
        assert 1 <= int(response.headers["retry-after"]) <= 300
        # The throttle is kept in the database, so every process sees it.
        assert await db.scalar(select(func.count()).select_from(LoginFailure)) == 5

    async def test_throttle_lifts_after_the_window(self, client: httpx.AsyncClient, admin_user: User) -> None:
        for _ in range(5):
            await client.post("/api/v1/auth/login", json={"email": admin_user.email, "password": "wrong"})
        with time_machine.travel(utcnow().timestamp() + 301, tick=True):
            response = await client.post(
                "/api/v1/auth/login", json={"email": admin_user.email, "password": PASSWORD}
            )
        assert response.status_code == 200

    async def test_logout_clears_the_session(self, client: httpx.AsyncClient, admin_user: User) -> None:
        csrf = await sign_in(client, admin_user)
        response = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 204
        assert (await client.get("/api/v1/organization")).status_code == 401

    async def test_a_forged_session_cookie_is_not_a_session(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        client.cookies.set("qualifica_session", "eyJ1Ijoi.forged.signature")
        response = await client.get("/api/v1/organization")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


class TestCSRF:
    async def test_missing_header_is_refused(self, client: httpx.AsyncClient, admin_user: User) -> None:
        await sign_in(client, admin_user)
        response = await client.patch("/api/v1/organization", json={"name": "Novo nome"})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"

    async def test_wrong_header_is_refused(self, client: httpx.AsyncClient, admin_user: User) -> None:
        await sign_in(client, admin_user)
        response = await client.patch(
            "/api/v1/organization", json={"name": "X"}, headers={"X-CSRF-Token": "f" * 64}
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"

    async def test_token_of_another_session_is_refused(
        self, client: httpx.AsyncClient, admin_user: User, db: AsyncSession
    ) -> None:
        other = await make_user(db, await make_org(db, "Outra"), role=Role.ADMIN)
        await db.commit()
        foreign_token = await sign_in(client, other)
        await sign_in(client, admin_user)
        client.cookies.set("qualifica_csrf", foreign_token)
        response = await client.patch(
            "/api/v1/organization", json={"name": "X"}, headers={"X-CSRF-Token": foreign_token}
        )
        assert response.status_code == 403

    async def test_matching_header_passes(self, client: httpx.AsyncClient, admin_user: User) -> None:
        csrf = await sign_in(client, admin_user)
        response = await client.patch(
            "/api/v1/organization", json={"name": "Aurora Imóveis"}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 200
        assert response.json()["name"] == "Aurora Imóveis"


class TestTenancy:
    async def test_member_cannot_use_an_admin_endpoint(
        self, client: httpx.AsyncClient, admin_user: User, db: AsyncSession
    ) -> None:
        organization = await db.get_one(Organization, admin_user.organization_id)
        member = await make_user(db, organization, role=Role.MEMBER)
        await db.commit()
        csrf = await sign_in(client, member)
        response = await client.patch(
            "/api/v1/organization", json={"name": "Tomada"}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
        assert (await client.get("/api/v1/organization")).json()["name"] == "Imobiliária Horizonte"

    async def test_admin_of_another_organization_only_touches_its_own(
        self, client: httpx.AsyncClient, admin_user: User, db: AsyncSession
    ) -> None:
        intruder = await make_user(db, await make_org(db, "Concorrente"), role=Role.ADMIN)
        await db.commit()
        csrf = await sign_in(client, intruder)
        response = await client.patch(
            "/api/v1/organization", json={"name": "Renomeada"}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 200
        assert response.json()["id"] == str(intruder.organization_id)
        members = [m["email"] for m in response.json()["members"]]
        assert admin_user.email not in members
        organization_id = admin_user.organization_id
        db.expire_all()
        assert (await db.get_one(Organization, organization_id)).name == "Imobiliária Horizonte"

    async def test_anonymous_is_refused(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/organization")).status_code == 401
        assert (await client.patch("/api/v1/organization", json={"name": "x"})).status_code == 401
