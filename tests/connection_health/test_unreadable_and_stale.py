"""ARCHITECTURE §12: a token we cannot decrypt is an invalid token (the organization is never locked out), and
a health reading taken with a token the connection no longer has changes nothing."""

from __future__ import annotations

import base64

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.audit import AuditEntry
from qualifica.meta.sandbox import Sandbox
from qualifica.models import Organization
from qualifica.runtime import Runtime
from qualifica.security.crypto import KeyRing, seal
from qualifica.whatsapp.health_check import apply, check, read
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection
from tests.support.accounts import sign_in
from tests.support.connections import connect_with_sandbox, make_connection, reload
from tests.support.keys import encryption_key
from tests.support.signup import Browser

SESSION_EXPIRED = "Sessão expirada. Clique para reconectar."


def removed_key() -> KeyRing:
    """A key that is no longer in the service's ring (removed after a rotation, or never there)."""
    return KeyRing.from_pairs([("gone", base64.b64decode(encryption_key()))])


async def unreadable_connection(db: AsyncSession, app: FastAPI, admin: User) -> WhatsAppConnection:
    organization = await db.get_one(Organization, admin.organization_id)
    return await make_connection(
        db, app, waba_id="5200000000001", organization=organization, ring=removed_key()
    )


class TestUnreadableToken:
    async def test_the_health_check_marks_it_token_invalid_instead_of_failing(
        self, db: AsyncSession, app: FastAPI, admin_user: User, runtime: Runtime
    ) -> None:
        connection = await unreadable_connection(db, app, admin_user)
        reading = await check(runtime, connection.id)
        assert reading.invalid
        connection = await reload(db, connection)
        assert (connection.status, connection.error_code, connection.error_message) == (
            ConnectionStatus.ERROR,
            "token_invalid",
            SESSION_EXPIRED,
        )

    async def test_the_page_check_answers_instead_of_500(
        self, db: AsyncSession, app: FastAPI, admin_user: User, client: httpx.AsyncClient
    ) -> None:
        await unreadable_connection(db, app, admin_user)
        browser = Browser(client, await sign_in(client, admin_user))
        response = await browser.post("/connection/health-check")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "error"
        error = response.json()["error"]
        assert (error["code"], error["message"]) == ("token_invalid", SESSION_EXPIRED)

    async def test_disconnect_works_without_the_token(
        self, db: AsyncSession, app: FastAPI, admin_user: User, client: httpx.AsyncClient, sandbox: Sandbox
    ) -> None:
        connection = await unreadable_connection(db, app, admin_user)
        browser = Browser(client, await sign_in(client, admin_user))
        response = await browser.post("/connection/disconnect")
        assert response.status_code == 200, response.text
        connection = await reload(db, connection)
        assert (connection.status, connection.access_token) == (ConnectionStatus.DISCONNECTED, None)
        audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "whatsapp.disconnect"))
        assert audit is not None and (audit.details or {})["unsubscribe"] == "skipped: no token"
        assert sandbox.requests("subscribed_apps") == []

    async def test_reconnecting_works_without_the_token(
        self, db: AsyncSession, app: FastAPI, admin_user: User, client: httpx.AsyncClient, sandbox: Sandbox
    ) -> None:
        connection = await unreadable_connection(db, app, admin_user)
        browser = Browser(client, await sign_in(client, admin_user))
        response = await browser.post("/embedded-signup/start")
        assert response.status_code == 200, response.text
        connection = await reload(db, connection)
        assert (connection.status, connection.error_code) == (ConnectionStatus.ERROR, "token_invalid")
        finished = await browser.finish(sandbox, response.json()["state"], "finish_new_waba")
        assert finished.status_code == 200, finished.text
        assert (await reload(db, connection)).status is ConnectionStatus.ACTIVE


class TestStaleReading:
    async def test_a_reading_with_the_old_token_never_breaks_the_reconnected_connection(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime
    ) -> None:
        connection, old_token = await connect_with_sandbox(db, app, sandbox)
        sandbox.revoke_token(old_token)
        reading = await read(runtime, connection)  # the check read with the old token: invalid
        assert reading.invalid
        # Meanwhile the admin reconnected: a new token is sealed into the same row.
        fresh = await reload(db, connection)
        new_token = (await runtime.graph.exchange_code(str(sandbox.complete_signup().code))).access_token
        fresh.access_token = seal(runtime.ring, fresh, "access_token", new_token)
        await db.commit()
        await apply(runtime, connection.id, reading)
        fresh = await reload(db, connection)
        assert (fresh.status, fresh.error_code) == (ConnectionStatus.ACTIVE, None)
        # the same reading, were it about the current token, would have counted
        current = await read(runtime, fresh)
        sandbox.revoke_token(new_token)
        await apply(runtime, connection.id, await read(runtime, fresh))
        assert not current.invalid
        assert (await reload(db, connection)).error_code == "token_invalid"
