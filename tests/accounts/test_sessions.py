"""Sessions are rows: logging out, a new password or a new role ends them on the server (ARCHITECTURE §13)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import time_machine
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Role, User, UserSession
from qualifica.accounts.service import set_password, set_role
from qualifica.db import utcnow
from qualifica.security.sessions import SESSION_COOKIE
from tests.support.accounts import sign_in
from tests.support.factories import make_org, make_user

NEW_PASSWORD = "outra-senha-bem-longa-7"


@asynccontextmanager
async def browser(app: FastAPI, cookies: dict[str, str] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", cookies=cookies) as http:
        yield http


async def signed_in(app: FastAPI, user: User) -> tuple[dict[str, str], str]:
    """A fresh login's cookies (as an attacker who copied them would hold them) and its CSRF token."""
    async with browser(app) as http:
        csrf = await sign_in(http, user)
        return dict(http.cookies), csrf


async def refused(app: FastAPI, cookies: dict[str, str]) -> bool:
    """The API answers 401 and a page sends the browser to /login for these cookies."""
    async with browser(app, cookies) as http:
        api = await http.get("/api/v1/organization")
        page = await http.get("/settings/whatsapp", headers={"Accept": "text/html"})
    if api.status_code == 200 and page.status_code == 200:
        return False
    assert api.status_code == 401 and api.json()["error"]["code"] == "not_authenticated", api.text
    assert page.status_code == 303 and page.headers["location"].startswith("/login"), page.status_code
    return True


class TestLogout:
    async def test_api_logout_ends_the_session_for_every_copy_of_the_cookie(
        self, app: FastAPI, admin_user: User
    ) -> None:
        cookies, csrf = await signed_in(app, admin_user)
        assert not await refused(app, cookies)
        async with browser(app, cookies) as http:
            assert (await http.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})).status_code == 204
        assert await refused(app, cookies)

    async def test_form_logout_ends_the_session(self, app: FastAPI, admin_user: User) -> None:
        cookies, csrf = await signed_in(app, admin_user)
        async with browser(app, cookies) as http:
            response = await http.post("/logout", data={"csrf_token": csrf})
        assert response.status_code == 303
        assert await refused(app, cookies)

    async def test_logout_ends_only_that_session(self, app: FastAPI, admin_user: User) -> None:
        laptop, csrf = await signed_in(app, admin_user)
        phone, _ = await signed_in(app, admin_user)
        async with browser(app, laptop) as http:
            await http.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert await refused(app, laptop)
        assert not await refused(app, phone)


class TestCredentialChanges:
    async def test_a_new_password_ends_every_session_of_the_user(
        self, app: FastAPI, admin_user: User, db: AsyncSession
    ) -> None:
        first, _ = await signed_in(app, admin_user)
        second, _ = await signed_in(app, admin_user)
        colleague = await make_user(db, await make_org(db, "Outra"), role=Role.ADMIN)
        await db.commit()
        theirs, _ = await signed_in(app, colleague)
        user = await db.get_one(User, admin_user.id)
        await set_password(db, user=user, password=NEW_PASSWORD)
        await db.commit()
        assert await refused(app, first) and await refused(app, second)
        assert not await refused(app, theirs)
        async with browser(app) as http:  # the new password signs in
            await sign_in(http, admin_user, NEW_PASSWORD)

    async def test_a_new_role_ends_every_session_of_the_user(
        self, app: FastAPI, admin_user: User, db: AsyncSession
    ) -> None:
        cookies, _ = await signed_in(app, admin_user)
        user = await db.get_one(User, admin_user.id)
        await set_role(db, user=user, role=Role.ADMIN)  # the same role: nothing changes
        await db.commit()
        assert not await refused(app, cookies)
        await set_role(db, user=user, role=Role.MEMBER)
        await db.commit()
        assert await refused(app, cookies)

    async def test_the_cli_password_and_role_commands_end_sessions(
        self, app: FastAPI, admin_user: User, database_url: str
    ) -> None:
        cookies, _ = await signed_in(app, admin_user)
        email = admin_user.email
        changed = qualifica("user", "password", "--email", email, "--password-stdin", db=database_url,
                            stdin=NEW_PASSWORD + "\n")  # fmt: skip
        assert changed.returncode == 0, changed.stderr
        assert await refused(app, cookies)
        async with browser(app) as http:
            await sign_in(http, admin_user, NEW_PASSWORD)
            cookies = dict(http.cookies)
        demoted = qualifica("user", "role", "--email", email, "--role", "member", db=database_url)
        assert demoted.returncode == 0, demoted.stderr
        assert await refused(app, cookies)
        unknown = qualifica("user", "role", "--email", "nobody@x.com", "--role", "member", db=database_url)
        assert unknown.returncode == 1 and unknown.stderr.strip() == "erro: usuário não encontrado"


class TestSessionRows:
    async def test_the_database_keeps_only_a_digest_of_the_cookie_secret(
        self, app: FastAPI, admin_user: User, db: AsyncSession
    ) -> None:
        cookies, _ = await signed_in(app, admin_user)
        row = (await db.scalars(select(UserSession).where(UserSession.user_id == admin_user.id))).one()
        data = app.state.session_codec.load(cookies[SESSION_COOKIE])
        assert row.token_digest == hashlib.sha256(data.sid.encode()).hexdigest()
        assert row.token_digest not in cookies[SESSION_COOKIE]
        assert row.revoked_at is None and row.expires_at > utcnow()

    async def test_an_expired_session_is_refused(self, app: FastAPI, admin_user: User) -> None:
        cookies, _ = await signed_in(app, admin_user)
        with time_machine.travel(utcnow().timestamp() + 12 * 3600 + 5, tick=True):
            assert await refused(app, cookies)

    async def test_a_validly_signed_cookie_without_a_row_is_not_a_session(
        self, app: FastAPI, admin_user: User
    ) -> None:
        """What the old stateless cookie was: signed with the right key, but never opened by a login."""
        cookie, _ = app.state.session_codec.new_session(admin_user.id)
        assert await refused(app, {SESSION_COOKIE: cookie})


def qualifica(*args: str, db: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUALIFICA_DATABASE_URL": db}
    return subprocess.run(
        [sys.executable, "-m", "qualifica.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
