"""The flag's behaviour over HTTP: who may start, and the rollback that keeps existing connections."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.flags import WHATSAPP_EMBEDDED_SIGNUP, rollout_bucket
from qualifica.meta.sandbox import Sandbox
from qualifica.staff.flags import Actor, set_enabled, set_percent
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection
from tests.support.signup import Browser
from tests.support.webhooks import envelope, post_signed

KEY = WHATSAPP_EMBEDDED_SIGNUP
OPS = Actor("ops@qualifica.test")


async def configure(
    db: AsyncSession, user: User, *, global_on: bool | None, override: bool | None, percent: int | None
) -> None:
    if global_on is not None:
        await set_enabled(db, KEY, enabled=global_on, organization_id=None, actor=OPS)
    if override is not None:
        await set_enabled(db, KEY, enabled=override, organization_id=user.organization_id, actor=OPS)
    if percent is not None:
        await set_percent(db, KEY, percent=percent, actor=OPS)
    await db.commit()


class TestWhoMayStart:
    @pytest.mark.parametrize(
        ("global_on", "override", "percent", "allowed"),
        [
            (None, None, None, True),  # development's default is on (production's is off)
            (False, None, None, False),
            (True, None, None, True),
            (False, True, None, True),  # pilot client
            (True, False, None, False),
            (False, None, 100, True),
            (False, None, 0, False),
            (False, False, 100, False),
        ],
    )
    async def test_start_follows_override_then_percentage_then_global(
        self,
        admin: Browser,
        admin_user: User,
        db: AsyncSession,
        global_on: bool | None,
        override: bool | None,
        percent: int | None,
        allowed: bool,
    ) -> None:
        await configure(db, admin_user, global_on=global_on, override=override, percent=percent)
        response = await admin.post("/embedded-signup/start")
        if allowed:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "feature_disabled"

    async def test_partial_percentage_follows_the_organizations_bucket(
        self, admin: Browser, admin_user: User, db: AsyncSession
    ) -> None:
        bucket = rollout_bucket(KEY, admin_user.organization_id)
        await configure(db, admin_user, global_on=False, override=None, percent=bucket)  # just outside
        assert (await admin.post("/embedded-signup/start")).status_code == 403
        await configure(db, admin_user, global_on=None, override=None, percent=bucket + 1)  # just inside
        assert (await admin.post("/embedded-signup/start")).status_code == 200


class TestRollback:
    async def test_turning_the_flag_off_keeps_existing_connections_working(
        self, admin: Browser, admin_user: User, db: AsyncSession, sandbox: Sandbox, client: httpx.AsyncClient
    ) -> None:
        pending_state = await admin.start()  # an admin had the popup open when the flag went off
        connected = await admin.connect(sandbox)
        assert connected.status_code == 200, connected.text
        await configure(db, admin_user, global_on=False, override=None, percent=None)

        start = await admin.post("/embedded-signup/start")
        assert (start.status_code, start.json()["error"]["code"]) == (403, "feature_disabled")
        result = sandbox.complete_signup()
        callback = await admin.post(
            "/embedded-signup/callback", {"code": result.code, "state": pending_state}
        )
        assert (callback.status_code, callback.json()["error"]["code"]) == (403, "feature_disabled")

        status = await client.get("/api/v1/whatsapp/connection/status")
        assert status.status_code == 200 and status.json()["status"] == "active"
        connection = await db.get(WhatsAppConnection, uuid.UUID(connected.json()["connection_id"]))
        assert connection is not None and connection.status is ConnectionStatus.ACTIVE
        webhook = await post_signed(client, envelope())
        assert webhook.status_code == 200
        assert (await admin.post("/connection/disconnect")).status_code == 200
        assert (await client.get("/api/v1/whatsapp/connection/status")).json()["status"] == "disconnected"
