from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.audit import AuditEntry
from qualifica.meta.sandbox import Sandbox
from qualifica.observability.models import AnalyticsEvent
from qualifica.security.crypto import unseal
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection
from tests.support.signup import META_STEPS, Browser


async def events(db: AsyncSession, name: str) -> list[dict[str, object]]:
    rows = await db.scalars(select(AnalyticsEvent).where(AnalyticsEvent.name == name))
    return [row.properties for row in rows]


class TestCancel:
    @pytest.mark.parametrize(
        ("current_step", "step"),
        [
            *META_STEPS,
            ("SOMETHING_NEW", "something_new"),
            (None, "login"),
        ],
    )
    async def test_cancel_records_the_popup_step(
        self, browser: Browser, db: AsyncSession, current_step: str | None, step: str
    ) -> None:
        state = await browser.start()
        response = await browser.post("/embedded-signup/cancel", {"state": state, "step": current_step})
        assert response.status_code == 204
        attempt = await db.scalar(select(EmbeddedSignupAttempt))
        assert attempt is not None
        assert (attempt.status, attempt.step_cancelled) == (AttemptStatus.CANCELLED, step)
        assert await events(db, "Embedded Signup Cancelled") == [{"step_cancelled": step}]
        assert (await browser.status())["status"] == "not_connected"

    async def test_second_cancel_changes_nothing(self, browser: Browser, db: AsyncSession) -> None:
        state = await browser.start()
        await browser.post("/embedded-signup/cancel", {"state": state, "step": "PERMISSIONS"})
        await browser.post("/embedded-signup/cancel", {"state": state, "step": "PHONE_NUMBER_SETUP"})
        assert len(await events(db, "Embedded Signup Cancelled")) == 1


class TestReportedError:
    @pytest.mark.parametrize("field", ["error_code", "error_id"])
    async def test_user_reported_error_fails_the_attempt(
        self, browser: Browser, db: AsyncSession, field: str
    ) -> None:
        state = await browser.start()
        body = {
            "state": state,
            "step": "PHONE_NUMBER_SETUP",
            field: "2494028",
            "error_message": "This WhatsApp Business account is already shared with another partner.",
            "session_id": "f34b51dab5e0498",
        }
        assert (await browser.post("/embedded-signup/error", body)).status_code == 204
        assert await events(db, "Embedded Signup Failed") == [
            {
                "error_code": "2494028",
                "error_message": "This WhatsApp Business account is already shared with another partner.",
                "step_failed": "phone",
            }
        ]
        audit = await db.scalar(select(AuditEntry))
        assert audit is not None and (audit.action, audit.status) == ("whatsapp.connect_failed", "failed")
        status = await browser.status()
        assert status["status"] == "not_connected"
        assert status["error"]["code"] == "already_shared"
        assert "outro parceiro" in status["error"]["hint"]


class TestPin:
    async def test_existing_two_step_pin_is_asked_for_and_then_used(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, app: FastAPI, admin: User
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup("finish_existing_number")
        sandbox.set_phone_pin(str(result.phone_number_id), "246810")

        response = await browser.callback(state, result)
        assert response.status_code == 202
        assert response.json() == {
            "success": False,
            "status": "pin_required",
            "attempt_id": response.json()["attempt_id"],
        }
        assert (await browser.status())["status"] == "pin_required"

        malformed = await browser.post("/connection/pin", {"pin": "12a456"})
        assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "invalid_pin"
        wrong = await browser.post("/connection/pin", {"pin": "111111"})
        assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "pin_mismatch"
        assert (await browser.status())["status"] == "pin_required"

        right = await browser.post("/connection/pin", {"pin": "246810"})
        assert right.status_code == 200, right.text
        assert right.json()["success"] is True
        status = await browser.status()
        assert status["status"] == "active" and status["connection"]["has_existing_number"] is True
        organization_id = admin.organization_id
        db.expire_all()
        connection = await db.scalar(
            select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
        )
        assert (
            connection is not None
            and unseal(app.state.runtime.ring, connection, "registration_pin") == "246810"
        )

    async def test_pin_without_a_waiting_connection_is_refused(self, browser: Browser) -> None:
        response = await browser.post("/connection/pin", {"pin": "123456"})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "no_pin_required"


class TestDisconnect:
    async def test_disconnect_unsubscribes_wipes_secrets_and_reconnect_reuses_the_row(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, admin: User
    ) -> None:
        first = await browser.connect(sandbox)
        assert first.status_code == 200
        response = await browser.post("/connection/disconnect", {"reason": "Trocamos de número"})
        assert response.status_code == 200 and response.json() == {"status": "disconnected"}
        assert [r.method for r in sandbox.requests("subscribed_apps")] == ["POST", "DELETE"]

        organization_id = admin.organization_id
        db.expire_all()
        connection = await db.scalar(
            select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
        )
        assert connection is not None
        assert (connection.status.value, connection.access_token, connection.registration_pin) == (
            "disconnected",
            None,
            None,
        )
        assert connection.disconnected_at is not None
        assert await events(db, "WhatsApp Disconnected") == [{"reason": "Trocamos de número"}]
        audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "whatsapp.disconnect"))
        assert audit is not None and audit.details and audit.details["unsubscribe"] == "ok"
        assert (await browser.status())["status"] == "disconnected"

        again = await browser.connect(sandbox)
        assert again.status_code == 200
        assert again.json()["connection_id"] == first.json()["connection_id"]
        assert (await browser.status())["status"] == "active"

    async def test_disconnect_without_reason_is_unspecified(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        await browser.connect(sandbox)
        assert (await browser.post("/connection/disconnect")).status_code == 200
        assert await events(db, "WhatsApp Disconnected") == [{"reason": "unspecified"}]

    async def test_disconnect_survives_meta_being_down(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        await browser.connect(sandbox)
        sandbox.fail_next("subscribed_apps", times=10, code=2, http_status=500)
        assert (await browser.post("/connection/disconnect")).status_code == 200
        audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "whatsapp.disconnect"))
        assert audit is not None and audit.details and audit.details["unsubscribe"] == "failed: 2"

    async def test_disconnect_when_not_connected_is_404(self, browser: Browser) -> None:
        response = await browser.post("/connection/disconnect")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_connected"
