"""ARCHITECTURE §12: every attempt ends — PIN tries capped, PIN waits and stuck runs expire, unexpected errors
fail it with ``internal_error`` — and an ended attempt keeps no token."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.runtime import Runtime
from qualifica.security.crypto import DecryptionError, seal
from qualifica.whatsapp import pipeline
from qualifica.whatsapp.jobs import expire_abandoned, resume_due
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection
from tests.support.signup import Browser

INTERNAL = "internal_error"


def ended(attempt: EmbeddedSignupAttempt) -> tuple[AttemptStatus, str | None, str | None]:
    return attempt.status, attempt.error_code, attempt.access_token


async def only_attempt(db: AsyncSession) -> EmbeddedSignupAttempt:
    db.expire_all()
    (attempt,) = (await db.scalars(select(EmbeddedSignupAttempt))).all()
    return attempt


async def waiting_for_pin(browser: Browser, sandbox: Sandbox) -> str:
    state = await browser.start()
    result = sandbox.complete_signup("finish_existing_number")
    sandbox.set_phone_pin(str(result.phone_number_id), "246810")
    assert (await browser.callback(state, result)).json()["status"] == "pin_required"
    return str(result.phone_number_id)


class TestPinTries:
    async def test_the_third_wrong_pin_ends_the_attempt(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        await waiting_for_pin(browser, sandbox)
        for _ in range(2):
            wrong = await browser.post("/connection/pin", {"pin": "111111"})
            assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "pin_mismatch"
        third = await browser.post("/connection/pin", {"pin": "111111"})
        assert third.status_code == 409, third.text
        assert third.json()["error"]["code"] == "pin_attempts_exhausted"
        attempt = await only_attempt(db)
        assert (attempt.status, attempt.error_code, attempt.pin_mismatches) == (
            AttemptStatus.FAILED,
            "pin_attempts_exhausted",
            3,
        )
        assert attempt.access_token is None
        registrations = len(sandbox.requests("register"))
        again = await browser.post("/connection/pin", {"pin": "246810"})  # even the right one, now
        assert again.status_code == 409 and again.json()["error"]["code"] == "pin_attempts_exhausted"
        assert len(sandbox.requests("register")) == registrations
        assert (await browser.status())["status"] == "not_connected"

    async def test_a_pin_wait_expires_after_24_hours(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, runtime: Runtime
    ) -> None:
        await waiting_for_pin(browser, sandbox)
        await expire_abandoned(runtime, now=utcnow() + timedelta(hours=23))
        assert (await only_attempt(db)).status is AttemptStatus.PIN_REQUIRED
        await expire_abandoned(runtime, now=utcnow() + timedelta(hours=25))
        attempt = await only_attempt(db)
        assert (attempt.status, attempt.access_token) == (AttemptStatus.EXPIRED, None)
        late = await browser.post("/connection/pin", {"pin": "246810"})
        assert late.status_code == 409 and late.json()["error"]["code"] == "attempt_superseded"


class TestUnexpectedErrors:
    async def test_a_meta_answer_that_does_not_fit_the_model_fails_the_attempt(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        sandbox.fail_next("phone_number", http_status=200, raw_body='{"unexpected": true}')
        response = await browser.connect(sandbox)
        assert response.status_code == 500, response.text
        error = response.json()["error"]
        assert error["code"] == INTERNAL and "inesperado" in error["message"]
        attempt = await only_attempt(db)
        assert (attempt.status, attempt.error_code, attempt.access_token) == (
            AttemptStatus.FAILED,
            INTERNAL,
            None,
        )
        assert attempt.lease_owner is None
        status = await browser.status()
        assert status["status"] == "not_connected" and status["error"]["code"] == INTERNAL

    async def test_a_decryption_error_fails_the_attempt(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(*_: object) -> str:
            raise DecryptionError("no key with id 'gone' in the key ring")

        monkeypatch.setattr(pipeline, "unseal", broken)  # the register step reads the sealed PIN
        response = await browser.connect(sandbox)
        assert response.status_code == 500 and response.json()["error"]["code"] == INTERNAL
        attempt = await only_attempt(db)
        assert (attempt.status, attempt.error_code, attempt.access_token) == (
            AttemptStatus.FAILED,
            INTERNAL,
            None,
        )
        assert await db.scalar(select(WhatsAppConnection)) is None


async def processing_attempt(
    db: AsyncSession, app: FastAPI, admin: User, *, resumes: int = 0, minutes: float = 1
) -> uuid.UUID:
    """An attempt whose runner held a (placeholder) token and vanished ``minutes`` ago."""
    runtime: Runtime = app.state.runtime
    attempt_id = uuid.uuid4()
    attempt = EmbeddedSignupAttempt(
        id=attempt_id,
        organization_id=admin.organization_id,
        user_id=admin.id,
        status=AttemptStatus.PROCESSING,
        step="token_exchanged",
        started_at=utcnow() - timedelta(minutes=minutes + 1),
        state_consumed_at=utcnow() - timedelta(minutes=minutes),
        waba_id="5100000000001",
        lease_owner="gone-process",
        lease_expires_at=utcnow() - timedelta(seconds=1),
        resume_count=resumes,
    )
    attempt.access_token = seal(runtime.ring, attempt, "access_token", "EAA" + secrets.token_hex(8))
    db.add(attempt)
    await db.commit()
    return attempt_id


class TestNeverHangs:
    async def test_an_attempt_resumed_six_times_is_not_run_again(
        self, db: AsyncSession, app: FastAPI, admin: User, runtime: Runtime, sandbox: Sandbox
    ) -> None:
        await processing_attempt(db, app, admin, resumes=6)
        sandbox.clear_requests()
        assert await resume_due(runtime) == 1
        attempt = await only_attempt(db)
        assert (attempt.status, attempt.error_code, attempt.access_token) == (
            AttemptStatus.FAILED,
            INTERNAL,
            None,
        )
        assert sandbox.requests() == []  # Meta is not called a seventh time

    async def test_no_attempt_stays_processing_past_15_minutes(
        self, db: AsyncSession, app: FastAPI, admin: User, runtime: Runtime
    ) -> None:
        fresh = await processing_attempt(db, app, admin, minutes=14)
        await expire_abandoned(runtime)
        assert (await db.get(EmbeddedSignupAttempt, fresh)) is not None
        assert (await only_attempt(db)).status is AttemptStatus.PROCESSING
        await expire_abandoned(runtime, now=utcnow() + timedelta(minutes=2))
        attempt = await only_attempt(db)
        assert (attempt.status, attempt.error_code, attempt.access_token, attempt.lease_owner) == (
            AttemptStatus.FAILED,
            INTERNAL,
            None,
            None,
        )
