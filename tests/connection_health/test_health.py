"""The connection health job and the page's on-demand check, against the live sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role
from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.runtime import Runtime
from qualifica.whatsapp.health_check import run_due_health_checks
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection
from tests.support.accounts import sign_in
from tests.support.connections import connect_with_sandbox, reload
from tests.support.factories import make_org, make_user
from tests.support.metrics import metric
from tests.support.rows import status_audits

CHECKS = "qualifica_whatsapp_health_checks_total"
SESSION_EXPIRED = "Sessão expirada. Clique para reconectar."
HEALTH_PATH = "/api/v1/whatsapp/connection/health-check"


def due(runtime: Runtime) -> datetime:
    """A moment when every connection is due for its periodic check."""
    return utcnow() + timedelta(seconds=runtime.settings.health_check_interval_seconds + 1)


class TestHealthJob:
    async def test_a_revoked_token_puts_the_connection_in_error_and_the_status_says_so(
        self,
        db: AsyncSession,
        app: FastAPI,
        sandbox: Sandbox,
        runtime: Runtime,
        client: httpx.AsyncClient,
    ) -> None:
        connection, token = await connect_with_sandbox(db, app, sandbox)
        sandbox.revoke_token(token)  # no webhook URL: only the health check can notice
        before = metric(CHECKS, outcome="token_invalid")
        assert await run_due_health_checks(runtime, now=due(runtime)) == 1
        connection = await reload(db, connection)
        assert (connection.status, connection.error_code) == (ConnectionStatus.ERROR, "token_invalid")
        assert connection.error_message == SESSION_EXPIRED
        (entry,) = await status_audits(db, connection)
        assert (entry.actor_user_id, (entry.details or {})["source"]) == (None, "health_check")
        assert metric(CHECKS, outcome="token_invalid") == before + 1
        member = await make_user(
            db, await db.get_one(Organization, connection.organization_id), role=Role.MEMBER
        )
        await db.commit()
        await sign_in(client, member)
        status = (await client.get("/api/v1/whatsapp/connection/status")).json()
        assert status["status"] == "error"
        assert status["error"]["code"] == "token_invalid" and status["error"]["message"] == SESSION_EXPIRED
        assert token not in str(status)

    async def test_a_good_check_refreshes_the_phone_health(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime
    ) -> None:
        connection, _ = await connect_with_sandbox(db, app, sandbox)
        await run_due_health_checks(runtime, now=due(runtime))
        connection = await reload(db, connection)
        assert connection.status is ConnectionStatus.ACTIVE
        assert (
            connection.quality_rating and connection.name_status and connection.messaging_limit == "TIER_250"
        )
        assert (connection.health or {})["health_status"]["can_send_message"]
        assert connection.last_health_check_at is not None and connection.last_health_error is None
        assert connection.token_expires_at is None  # the sandbox's business tokens never expire by default

    async def test_a_token_expiring_within_7_days_is_a_warning_and_a_metric(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime
    ) -> None:
        sandbox.set_token_lifetime(3 * 86400)
        connection, _ = await connect_with_sandbox(db, app, sandbox)
        before = metric(CHECKS, outcome="token_expiring")
        await run_due_health_checks(runtime, now=due(runtime))
        connection = await reload(db, connection)
        assert connection.status is ConnectionStatus.ACTIVE and connection.token_expires_at is not None
        warnings = {w["code"]: w for w in connection.health_warnings or []}
        assert "Reconecte" in warnings["token_expiring"]["message"]
        assert "phone_limited" in warnings  # the sandbox's new number is not registered yet
        assert metric(CHECKS, outcome="token_expiring") == before + 1

    async def test_a_failed_check_keeps_the_last_good_snapshot_and_records_why(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime
    ) -> None:
        connection, _ = await connect_with_sandbox(db, app, sandbox)
        await run_due_health_checks(runtime, now=due(runtime))
        good = await reload(db, connection)
        snapshot = (good.quality_rating, good.name_status, good.messaging_limit, good.health)
        good_check = good.last_health_check_at
        sandbox.fail_next("phone_number", times=20, code=2, http_status=503, is_transient=True)
        before = metric(CHECKS, outcome="failed")
        await run_due_health_checks(runtime, now=due(runtime) + timedelta(days=2))
        failed = await reload(db, connection)
        assert failed.status is ConnectionStatus.ACTIVE
        assert (failed.quality_rating, failed.name_status, failed.messaging_limit, failed.health) == snapshot
        assert failed.last_health_error and "code=2" in failed.last_health_error
        assert failed.last_health_check_at and good_check and failed.last_health_check_at > good_check
        assert metric(CHECKS, outcome="failed") == before + 1

    async def test_a_connection_is_checked_once_per_interval(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime
    ) -> None:
        await connect_with_sandbox(db, app, sandbox)
        assert await run_due_health_checks(runtime) == 0  # just connected: the signup verified it
        moment = due(runtime)
        assert await run_due_health_checks(runtime, now=moment) == 1
        assert await run_due_health_checks(runtime, now=moment + timedelta(hours=1)) == 0
        later = moment + timedelta(seconds=runtime.settings.health_check_interval_seconds + 1)
        assert await run_due_health_checks(runtime, now=later) == 1


class TestOnDemand:
    async def test_an_admin_checks_now_and_gets_the_refreshed_status(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, client: httpx.AsyncClient
    ) -> None:
        connection, token = await connect_with_sandbox(db, app, sandbox)
        admin = await make_user(db, await db.get_one(Organization, connection.organization_id))
        await db.commit()
        csrf = await sign_in(client, admin)
        assert (await client.post(HEALTH_PATH)).status_code == 403  # no CSRF header
        response = await client.post(HEALTH_PATH, headers={"X-CSRF-Token": csrf})
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "active" and body["connection"]["last_health_check_at"]
        assert body["connection"]["quality_rating"]
        sandbox.revoke_token(token)
        await db.execute(
            update(WhatsAppConnection).values(last_health_check_at=utcnow() - timedelta(minutes=1))
        )
        await db.commit()
        body = (await client.post(HEALTH_PATH, headers={"X-CSRF-Token": csrf})).json()
        assert body["status"] == "error" and body["error"]["message"] == SESSION_EXPIRED

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN])
    async def test_members_are_refused_and_an_org_without_connection_gets_404(
        self, db: AsyncSession, client: httpx.AsyncClient, role: Role
    ) -> None:
        user = await make_user(db, await make_org(db), role=role)
        await db.commit()
        csrf = await sign_in(client, user)
        response = await client.post(HEALTH_PATH, headers={"X-CSRF-Token": csrf})
        assert response.status_code == (403 if role is Role.MEMBER else 404)
