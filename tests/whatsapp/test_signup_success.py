from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.audit import AuditEntry
from qualifica.meta.sandbox import Sandbox
from qualifica.observability.models import AnalyticsEvent
from qualifica.security.crypto import unseal
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection
from tests.support.signup import Browser


async def stored_connection(db: AsyncSession, admin: User) -> WhatsAppConnection:
    organization_id = admin.organization_id
    db.expire_all()
    connection = await db.scalar(
        select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
    )
    assert connection is not None
    return connection


class TestStart:
    async def test_start_returns_a_state_and_the_sdk_parameters(
        self, browser: Browser, db: AsyncSession
    ) -> None:
        response = await browser.post("/embedded-signup/start")
        assert response.status_code == 200
        body = response.json()
        assert body["app_id"] == "123456789012345" and body["config_id"] == "555000111222333"
        assert body["graph_api_version"] == "v26.0"
        assert body["extras"] == {"setup": {}}
        assert body["sdk_url"] == "https://connect.facebook.net/pt_BR/sdk.js"
        attempt = await db.get_one(EmbeddedSignupAttempt, uuid.UUID(body["attempt_id"]))
        assert attempt.status is AttemptStatus.STARTED

    async def test_start_emits_the_started_event(self, browser: Browser, db: AsyncSession) -> None:
        await browser.start()
        names = (await db.scalars(select(AnalyticsEvent.name))).all()
        assert names == ["Embedded Signup Started"]


class TestCallbackSuccess:
    async def test_new_number_is_registered_and_saved(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, admin: User, app: FastAPI
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup("finish")
        response = await browser.callback(state, result)

        assert response.status_code == 200, response.text
        assert response.json()["success"] is True
        connection = await stored_connection(db, admin)
        assert str(connection.id) == response.json()["connection_id"]
        phone = sandbox.phone(str(result.phone_number_id))
        assert (connection.waba_id, connection.phone_number_id) == (result.waba_id, result.phone_number_id)
        assert connection.display_phone_number == phone.display_phone_number
        assert connection.business_name == sandbox.world.businesses[str(result.data["business_id"])].name
        assert connection.status.value == "active" and connection.connected_at is not None
        assert connection.has_existing_number is False
        # Registered with a 6-digit PIN we generated and kept (sealed) for later re-registrations.
        register = sandbox.requests("register")
        assert len(register) == 1
        pin = unseal(app.state.runtime.ring, connection, "registration_pin")
        assert pin == register[0].body["pin"] and len(pin or "") == 6
        # The token column holds ciphertext only, and it opens to the token Meta issued.
        token = unseal(app.state.runtime.ring, connection, "access_token")
        assert token is not None and token.startswith("EAA")
        assert token not in (connection.access_token or "")
        assert sandbox.token(token).waba_ids == [result.waba_id]
        assert connection.access_token and connection.access_token.startswith("v1:")

    async def test_the_attempt_keeps_no_secret_once_saved(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        response = await browser.connect(sandbox)
        assert response.status_code == 200
        attempt = await db.scalar(select(EmbeddedSignupAttempt))
        assert attempt is not None and attempt.status is AttemptStatus.COMPLETED
        assert (attempt.access_token, attempt.registration_pin) == (None, None)

    async def test_only_waba_finds_the_numbers_through_the_waba_and_asks_which(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, admin: User
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup("finish_only_waba")
        assert result.event == "FINISH_ONLY_WABA" and result.phone_number_id is None
        response = await browser.callback(state, result)
        assert response.status_code == 202, response.text
        choices = response.json()["choices"]
        assert len(choices["phone_numbers"]) == len(sandbox.world.phones_of(str(result.waba_id))) > 1
        response = await browser.post(
            "/embedded-signup/choose",
            {
                "attempt_id": response.json()["attempt_id"],
                "waba_id": result.waba_id,
                "phone_number_id": choices["phone_numbers"][0]["id"],
            },
        )
        assert response.status_code == 200, response.text
        connection = await stored_connection(db, admin)
        assert connection.phone_number_id in {p.id for p in sandbox.world.phones_of(str(result.waba_id))}
        assert len(sandbox.requests("phone_numbers")) == 1

    async def test_coexistence_skips_registration(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, admin: User
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup("coexistence")
        assert result.event == "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
        response = await browser.callback(state, result)
        assert response.status_code == 200, response.text
        connection = await stored_connection(db, admin)
        assert connection.has_existing_number is True
        assert connection.registration_pin is None
        assert sandbox.requests("register") == []

    async def test_number_already_on_the_cloud_api_is_not_registered_again(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, admin: User
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup("finish_existing_number")
        with sandbox.lock:  # migrated from another provider: verified and already on the Cloud API
            phone = sandbox.world.phones[str(result.phone_number_id)]
            phone.platform_type, phone.throughput_level, phone.status = "CLOUD_API", "STANDARD", "CONNECTED"
        response = await browser.callback(state, result)
        assert response.status_code == 200, response.text
        assert (await stored_connection(db, admin)).has_existing_number is True
        assert sandbox.requests("register") == []

    async def test_existing_number_not_yet_on_the_cloud_api_is_registered(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, admin: User
    ) -> None:
        response = await browser.connect(sandbox, "finish_existing_number")
        assert response.status_code == 200, response.text
        assert len(sandbox.requests("register")) == 1
        # ARCHITECTURE §10: false exactly when we registered the number ourselves.
        assert (await stored_connection(db, admin)).has_existing_number is False

    async def test_subscribes_our_app_to_the_waba(self, browser: Browser, sandbox: Sandbox) -> None:
        state = await browser.start()
        result = sandbox.complete_signup("finish")
        await browser.callback(state, result)
        assert "123456789012345" in sandbox.waba(str(result.waba_id)).subscribed_apps

    async def test_status_reports_the_connection(self, browser: Browser, sandbox: Sandbox) -> None:
        assert (await browser.status())["status"] == "not_connected"
        await browser.connect(sandbox)
        status = await browser.status()
        assert status["status"] == "active" and status["error"] is None
        assert status["connection"]["display_phone_number"]
        assert "access_token" not in status["connection"]

    async def test_completion_is_audited_and_tracked(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, admin: User
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup("finish")
        await browser.callback(state, result)
        audit = (await db.scalars(select(AuditEntry))).all()
        assert [(a.action, a.status, a.actor_user_id) for a in audit] == [
            ("whatsapp.connect", "success", admin.id)
        ]
        assert audit[0].ip_address and audit[0].user_agent
        completed = await db.scalar(
            select(AnalyticsEvent).where(AnalyticsEvent.name == "Embedded Signup Completed")
        )
        assert completed is not None
        props = completed.properties
        assert props["waba_id"] == result.waba_id and props["has_existing_number"] is False
        assert isinstance(props["time_to_complete_seconds"], float) and props["time_to_complete_seconds"] >= 0

    async def test_started_while_connected_is_refused(self, browser: Browser, sandbox: Sandbox) -> None:
        await browser.connect(sandbox)
        response = await browser.post("/embedded-signup/start")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "already_connected"
