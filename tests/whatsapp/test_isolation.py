from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.meta.sandbox import Sandbox
from tests.support.accounts import sign_in
from tests.support.factories import make_org, make_user
from tests.support.signup import BASE, Browser

ADMIN_POSTS = [
    "/embedded-signup/start",
    "/embedded-signup/callback",
    "/embedded-signup/cancel",
    "/embedded-signup/error",
    "/connection/disconnect",
    "/connection/pin",
]


@pytest.fixture
async def connected(client: httpx.AsyncClient, admin: User, sandbox: Sandbox) -> tuple[Browser, str]:
    """Our organization, connected, plus a fresh state of ours for the state-bearing endpoints."""
    browser = Browser(client, await sign_in(client, admin))
    assert (await browser.connect(sandbox)).status_code == 200
    assert (await browser.post("/connection/disconnect")).status_code == 200
    state = await browser.start()
    return browser, state


def body_for(path: str, state: str) -> dict[str, object]:
    bodies: dict[str, dict[str, object]] = {
        "/embedded-signup/callback": {"code": "AQ-some-code", "state": state},
        "/embedded-signup/cancel": {"state": state, "step": "PERMISSIONS"},
        "/embedded-signup/error": {"state": state, "error_code": "1", "error_message": "x"},
        "/connection/pin": {"pin": "123456"},
    }
    return bodies.get(path, {})


class TestIsolation:
    @pytest.mark.parametrize("path", ADMIN_POSTS)
    async def test_anonymous_is_refused(
        self, client: httpx.AsyncClient, connected: tuple[Browser, str], path: str
    ) -> None:
        client.cookies.clear()
        response = await client.post(BASE + path, json=body_for(path, connected[1]))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"

    @pytest.mark.parametrize("path", ADMIN_POSTS)
    async def test_missing_csrf_header_is_refused(
        self, client: httpx.AsyncClient, connected: tuple[Browser, str], path: str
    ) -> None:
        response = await client.post(BASE + path, json=body_for(path, connected[1]))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"

    @pytest.mark.parametrize("path", ADMIN_POSTS)
    async def test_member_is_refused_whatever_the_body(
        self,
        client: httpx.AsyncClient,
        admin: User,
        db: AsyncSession,
        connected: tuple[Browser, str],
        path: str,
    ) -> None:
        member = await make_user(db, await db.get_one(Organization, admin.organization_id), role=Role.MEMBER)
        await db.commit()
        browser = Browser(client, await sign_in(client, member))
        for body in (body_for(path, connected[1]), {"unexpected": True}):
            response = await browser.post(path, body)
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "forbidden"
        assert (await browser.status())["status"] == "disconnected"  # members may read the status

    @pytest.mark.parametrize(
        "path", ["/embedded-signup/callback", "/embedded-signup/cancel", "/embedded-signup/error"]
    )
    async def test_admin_of_another_organization_cannot_use_our_state(
        self, client: httpx.AsyncClient, db: AsyncSession, connected: tuple[Browser, str], path: str
    ) -> None:
        outsider = await make_user(db, await make_org(db, "Concorrente"), role=Role.ADMIN)
        await db.commit()
        browser = Browser(client, await sign_in(client, outsider))
        response = await browser.post(path, body_for(path, connected[1]))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"

    async def test_admin_of_another_organization_only_sees_and_touches_its_own(
        self,
        client: httpx.AsyncClient,
        admin: User,
        db: AsyncSession,
        connected: tuple[Browser, str],
        sandbox: Sandbox,
    ) -> None:
        ours, _ = connected
        assert (await ours.connect(sandbox)).status_code == 200
        outsider = await make_user(db, await make_org(db, "Concorrente"), role=Role.ADMIN)
        await db.commit()
        theirs = Browser(client, await sign_in(client, outsider))
        assert (await theirs.status())["status"] == "not_connected"
        assert (await theirs.post("/connection/disconnect")).status_code == 404
        assert (await theirs.post("/connection/pin", {"pin": "123456"})).status_code == 409
        ours.csrf = await sign_in(client, admin)
        assert (await ours.status())["status"] == "active"

    async def test_redirect_callback_needs_an_admin(
        self, client: httpx.AsyncClient, admin: User, db: AsyncSession, connected: tuple[Browser, str]
    ) -> None:
        member = await make_user(db, await db.get_one(Organization, admin.organization_id), role=Role.MEMBER)
        await db.commit()
        await sign_in(client, member)
        response = await client.get(
            BASE + "/embedded-signup/callback", params={"code": "x", "state": connected[1]}
        )
        assert response.status_code == 403
        client.cookies.clear()
        assert (await client.get(BASE + "/embedded-signup/callback", params={"code": "x"})).status_code == 401
