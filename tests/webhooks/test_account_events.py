"""``account_update`` events sent by the sandbox's signed webhook sender over a real socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.config import WEBHOOK_PATH, Settings
from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.models import Organization
from qualifica.runtime import Runtime
from qualifica.webhooks.models import WebhookChange
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp.connection_state import ERROR_MESSAGES
from qualifica.whatsapp.models import AttemptStatus, ConnectionStatus, EmbeddedSignupAttempt
from tests.support.connections import connect_with_sandbox, reload
from tests.support.factories import PASSWORD, make_org, make_user
from tests.support.live import live_server
from tests.support.metrics import metric
from tests.support.rows import status_audits

STATUS_CHANGES = "qualifica_whatsapp_status_changes_total"
SCHEDULED_BAN = {"waba_ban_state": "SCHEDULE_FOR_DISABLE", "waba_ban_date": "April 17, 2025"}
RESTRICTION = {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": 1}


@pytest.fixture
def webhook_url(settings: Settings, sandbox: Sandbox) -> Iterator[str]:
    """Our app on a real socket (no worker: the test drives processing), the sandbox's webhook target."""
    with live_server(settings) as url:
        sandbox.webhooks.url = url + WEBHOOK_PATH
        yield url


def delivered(sandbox: Sandbox) -> None:
    assert sandbox.webhooks.wait_idle(15)
    assert sandbox.webhooks.deliveries and all(d.status == 200 for d in sandbox.webhooks.deliveries)


class TestRevocation:
    @pytest.mark.parametrize(
        ("event", "code"),
        [("PARTNER_REMOVED", "partner_removed"), ("ACCOUNT_DELETED", "account_deleted")],
    )
    async def test_meta_taking_the_account_away_puts_the_connection_in_error(
        self,
        db: AsyncSession,
        app: FastAPI,
        sandbox: Sandbox,
        runtime: Runtime,
        webhook_url: str,
        event: str,
        code: str,
    ) -> None:
        connection, _ = await connect_with_sandbox(db, app, sandbox)
        delivered(sandbox)  # the signup's PARTNER_ADDED first: coming later, it would restore the connection
        before = metric(STATUS_CHANGES, status="error", reason=code)
        sandbox.notify.account_update(event, connection.waba_id)
        delivered(sandbox)
        await process_webhooks(runtime)
        connection = await reload(db, connection)
        assert (connection.status, connection.error_code) == (ConnectionStatus.ERROR, code)
        assert connection.error_message == ERROR_MESSAGES[code]
        assert "reconectar" in connection.error_message
        (entry,) = await status_audits(db, connection)
        details = entry.details or {}
        assert (entry.actor_user_id, entry.status, details["error_code"], details["event"]) == (
            None, "error", code, event
        )  # fmt: skip
        assert metric(STATUS_CHANGES, status="error", reason=code) == before + 1

    async def test_uninstalling_the_app_reaches_the_status_endpoint_within_seconds(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, settings: Settings
    ) -> None:
        connection, token = await connect_with_sandbox(db, app, sandbox)
        admin = await make_user(db, await db.get_one(Organization, connection.organization_id))
        await db.commit()
        with live_server(settings, worker=True) as url:
            sandbox.webhooks.url = url + WEBHOOK_PATH
            sent = time.monotonic()
            sandbox.revoke_token(token)
            async with httpx.AsyncClient(base_url=url) as http:
                login = {"email": admin.email, "password": PASSWORD}
                assert (await http.post("/api/v1/auth/login", json=login)).status_code == 200
                while time.monotonic() - sent < 5:
                    status = (await http.get("/api/v1/whatsapp/connection/status")).json()
                    if (status["error"] or {}).get("code") == "app_uninstalled":
                        break
                    await asyncio.sleep(0.1)
        assert status["status"] == "error", status
        assert status["error"] == {
            "code": "app_uninstalled",
            "message": ERROR_MESSAGES["app_uninstalled"],
            "hint": None,
        }
        assert time.monotonic() - sent < 5


class TestWarnings:
    @pytest.mark.parametrize(
        ("event", "extra", "code"),
        [
            ("DISABLED_UPDATE", {"ban_info": SCHEDULED_BAN}, "account_disable_scheduled"),
            ("ACCOUNT_RESTRICTION", {"restriction_info": [RESTRICTION]}, "account_restricted"),
            ("ACCOUNT_VIOLATION", {"violation_info": {"violation_type": "ADULT"}}, "account_violation"),
        ],
    )
    async def test_account_problems_become_warnings_and_keep_the_connection_active(
        self,
        db: AsyncSession,
        app: FastAPI,
        sandbox: Sandbox,
        runtime: Runtime,
        webhook_url: str,
        event: str,
        extra: dict[str, Any],
        code: str,
    ) -> None:
        connection, _ = await connect_with_sandbox(db, app, sandbox)
        sandbox.notify.account_update(event, connection.waba_id, **extra)
        delivered(sandbox)
        await process_webhooks(runtime)
        connection = await reload(db, connection)
        assert connection.status is ConnectionStatus.ACTIVE
        (warning,) = connection.health_warnings or []
        assert warning["code"] == code and warning["message"] and warning["source"] == "webhook"

    async def test_a_reinstated_account_loses_its_disabled_warning(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime, webhook_url: str
    ) -> None:
        connection, _ = await connect_with_sandbox(db, app, sandbox)
        for state in ("DISABLE", "REINSTATE"):
            sandbox.notify.account_update(
                "DISABLED_UPDATE", connection.waba_id, ban_info={"waba_ban_state": state}
            )
            delivered(sandbox)
            await process_webhooks(runtime)
        assert (await reload(db, connection)).health_warnings == []


class TestGranted:
    async def test_partner_added_brings_back_a_connection_whose_token_works(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime, webhook_url: str
    ) -> None:
        connection, _ = await connect_with_sandbox(db, app, sandbox, status=ConnectionStatus.ERROR)
        for event in ("PARTNER_ADDED", "PARTNER_APP_INSTALLED"):
            sandbox.notify.account_update(event, connection.waba_id)
        delivered(sandbox)
        await process_webhooks(runtime)
        connection = await reload(db, connection)
        assert (connection.status, connection.error_code) == (ConnectionStatus.ACTIVE, None)
        (entry,) = await status_audits(db, connection)
        assert (entry.details or {})["source"] == "webhook" and entry.status == "active"

    async def test_partner_added_hurries_a_signup_waiting_to_resume(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime, webhook_url: str
    ) -> None:
        result = sandbox.complete_signup()
        admin = await make_user(db, await make_org(db))
        attempt = EmbeddedSignupAttempt(
            organization_id=admin.organization_id,
            user_id=admin.id,
            status=AttemptStatus.PROCESSING,
            waba_id=result.waba_id,
            started_at=utcnow(),
            lease_expires_at=utcnow() + timedelta(minutes=10),  # postponed resume
            step_results={"waba": {"id": result.waba_id}},  # Meta answered our read of the WABA
        )
        db.add(attempt)
        await db.commit()
        delivered(sandbox)  # the sandbox sends PARTNER_ADDED after the finished signup
        await process_webhooks(runtime)
        await db.refresh(attempt)
        assert attempt.lease_expires_at is None

    async def test_partner_added_ignores_an_attempt_that_only_named_the_waba(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime, webhook_url: str
    ) -> None:
        """A page can send any WABA id: only Meta's own answer ties a shared WABA to an attempt (§12)."""
        result = sandbox.complete_signup()
        admin = await make_user(db, await make_org(db))
        not_before = utcnow() + timedelta(minutes=10)
        attempt = EmbeddedSignupAttempt(
            organization_id=admin.organization_id,
            user_id=admin.id,
            status=AttemptStatus.PROCESSING,
            waba_id=result.waba_id,  # claimed by the browser, never confirmed by Meta
            started_at=utcnow(),
            lease_expires_at=not_before,
        )
        db.add(attempt)
        await db.commit()
        delivered(sandbox)
        await process_webhooks(runtime)
        await db.refresh(attempt)
        assert attempt.lease_expires_at == not_before
        change = await db.scalar(select(WebhookChange).where(WebhookChange.field == "account_update"))
        assert change is not None and change.organization_id is None and change.outcome == "unmatched"


class TestPhoneNotifications:
    async def test_quality_and_name_updates_refresh_the_health_fields_and_messages_are_kept(
        self, db: AsyncSession, app: FastAPI, sandbox: Sandbox, runtime: Runtime, webhook_url: str
    ) -> None:
        connection, _ = await connect_with_sandbox(db, app, sandbox)
        sandbox.notify.quality_update(connection.phone_number_id, event="FLAGGED", current_limit="TIER_1K")
        sandbox.notify.name_update(
            connection.phone_number_id, decision="REJECTED", rejection_reason="NAME_FORMAT_UNACCEPTABLE"
        )
        sandbox.notify.message(connection.phone_number_id)
        delivered(sandbox)
        await process_webhooks(runtime)
        connection = await reload(db, connection)
        assert (connection.messaging_limit, connection.name_status) == ("TIER_1K", "DECLINED")
        assert {w["code"] for w in connection.health_warnings or []} == {"quality_flagged", "name_rejected"}
        kept = await db.scalar(select(WebhookChange).where(WebhookChange.field == "messages"))
        assert kept is not None and (kept.outcome, kept.organization_id) == (
            "processed",
            connection.organization_id,
        )
