"""The health check's watchdog: our app's webhook subscription, removed at Meta, is put back."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.audit import AuditEntry
from qualifica.meta.sandbox import Sandbox
from qualifica.runtime import Runtime
from qualifica.whatsapp.health_check import run_due_health_checks
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection
from tests.connection_health.test_health import due
from tests.support.connections import connect_with_sandbox, reload
from tests.support.rows import audit_entries, status_audits
from tests.support.sandbox import LiveSandbox

REPAIRS = "qualifica_webhook_subscription_repairs_total"
ACTION = "whatsapp.subscription_repaired"


async def repairs(client: httpx.AsyncClient) -> float:
    """The counter as ``/metrics`` exposes it."""
    text = (await client.get("/metrics")).text
    found = re.search(rf"^{REPAIRS} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def connected(db: AsyncSession, app: FastAPI, sandbox: Sandbox) -> WhatsAppConnection:
    connection, _ = await connect_with_sandbox(db, app, sandbox)
    assert sandbox.credentials.app_id in sandbox.waba(connection.waba_id).subscribed_apps
    return connection


async def unsubscribe(live_sandbox: LiveSandbox, waba_id: str) -> None:
    async with httpx.AsyncClient(base_url=live_sandbox.url) as control:
        response = await control.post(f"/_control/wabas/{waba_id}/unsubscribe")
        assert response.status_code == 200


class TestSubscriptionWatchdog:
    async def test_a_removed_subscription_is_restored_audited_and_counted(
        self,
        db: AsyncSession,
        app: FastAPI,
        sandbox: Sandbox,
        live_sandbox: LiveSandbox,
        runtime: Runtime,
        client: httpx.AsyncClient,
    ) -> None:
        connection = await connected(db, app, sandbox)
        app_id = sandbox.credentials.app_id
        await unsubscribe(live_sandbox, connection.waba_id)
        assert app_id not in sandbox.waba(connection.waba_id).subscribed_apps
        before = await repairs(client)
        assert await run_due_health_checks(runtime, now=due(runtime)) == 1
        assert app_id in sandbox.waba(connection.waba_id).subscribed_apps
        (entry,) = await audit_entries(db, ACTION, AuditEntry.organization_id == connection.organization_id)
        assert entry.actor_user_id is None
        assert (entry.details or {})["waba_id"] == connection.waba_id
        assert await repairs(client) == before + 1
        connection = await reload(db, connection)
        assert connection.status is ConnectionStatus.ACTIVE and connection.last_health_error is None
        assert await status_audits(db, connection) == []

    async def test_a_present_subscription_is_left_alone(
        self,
        db: AsyncSession,
        app: FastAPI,
        sandbox: Sandbox,
        runtime: Runtime,
        client: httpx.AsyncClient,
    ) -> None:
        connection = await connected(db, app, sandbox)
        sandbox.clear_requests()
        before = await repairs(client)
        assert await run_due_health_checks(runtime, now=due(runtime)) == 1
        calls = [r.method for r in sandbox.requests("subscribed_apps")]
        assert calls == ["GET"]  # read, not written
        assert await audit_entries(db, ACTION) == []
        assert await repairs(client) == before
        assert (await reload(db, connection)).status is ConnectionStatus.ACTIVE

    async def test_a_meta_error_on_subscribed_apps_is_a_failed_check_not_an_error(
        self,
        db: AsyncSession,
        app: FastAPI,
        sandbox: Sandbox,
        runtime: Runtime,
        client: httpx.AsyncClient,
    ) -> None:
        connection = await connected(db, app, sandbox)
        sandbox.fail_next("subscribed_apps", times=20, code=2, http_status=503, is_transient=True)
        before = await repairs(client)
        assert await run_due_health_checks(runtime, now=due(runtime)) == 1
        connection = await reload(db, connection)
        assert connection.status is ConnectionStatus.ACTIVE and connection.error_code is None
        assert connection.last_health_error and "code=2" in connection.last_health_error
        assert await status_audits(db, connection) == []
        assert await audit_entries(db, ACTION) == []
        assert await repairs(client) == before

    async def test_a_refused_repair_is_retried_by_the_next_check_and_the_connection_stays_active(
        self,
        db: AsyncSession,
        app: FastAPI,
        sandbox: Sandbox,
        live_sandbox: LiveSandbox,
        runtime: Runtime,
        client: httpx.AsyncClient,
    ) -> None:
        connection = await connected(db, app, sandbox)
        await unsubscribe(live_sandbox, connection.waba_id)
        # Meta is down for writes: every subscribe of this check fails, its retries included; reads work
        sandbox.fail_next(
            "subscribed_apps", times=10, code=2, http_status=503, is_transient=True, method="POST"
        )
        sandbox.clear_requests()
        before = await repairs(client)

        assert await run_due_health_checks(runtime, now=due(runtime)) == 1
        methods = [r.method for r in sandbox.requests("subscribed_apps")]
        assert methods[0] == "GET" and set(methods[1:]) == {"POST"}
        assert sandbox.credentials.app_id not in sandbox.waba(connection.waba_id).subscribed_apps
        connection = await reload(db, connection)
        assert connection.status is ConnectionStatus.ACTIVE and connection.error_code is None
        assert connection.last_health_error and connection.last_health_error.startswith("subscribed_apps:")
        assert await audit_entries(db, ACTION) == []
        assert await repairs(client) == before

        sandbox.clear_failures("subscribed_apps")
        assert await run_due_health_checks(runtime, now=due(runtime) + timedelta(days=2)) == 1
        assert sandbox.credentials.app_id in sandbox.waba(connection.waba_id).subscribed_apps
        assert len(await audit_entries(db, ACTION)) == 1
        assert await repairs(client) == before + 1
