"""ES v4 endings without a usable number (ARCHITECTURE §14): the number's code, or a number first, then
registration as usual; through the sandbox over a real socket, on both databases."""

from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.meta.sandbox import Sandbox
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt
from tests.support.signup import Browser

NUMBER = {"country_code": "55", "phone_number": "11 94444-5555", "verified_name": "Horizonte Plantão"}


async def attempt_status(db: AsyncSession) -> AttemptStatus:
    db.expire_all()
    attempt: EmbeddedSignupAttempt | None = await db.scalar(select(EmbeddedSignupAttempt))
    assert attempt is not None
    return attempt.status


async def unverified(browser: Browser, sandbox: Sandbox) -> str:
    """A signup that ends with a number Meta has not verified; returns the number's id."""
    response = await browser.connect(sandbox, "finish_unverified_number")
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "verification_required"
    status = await browser.status()
    assert status["status"] == "verification_required"
    phone_id: str = status["phone_number"]["id"]
    assert status["phone_number"]["display_phone_number"]
    return phone_id


class TestVerification:
    async def test_unverified_number_code_wrong_then_right_then_registered_and_active(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        phone_id = await unverified(browser, sandbox)
        assert sandbox.requests("register") == []  # never registered unverified

        sent = await browser.post("/connection/verification/request", {"method": "sms"})
        assert sent.status_code == 200, sent.text
        assert sent.json() == {
            "status": "verification_required",
            "phone_number": (await browser.status())["phone_number"],
            "method": "sms",
        }
        (asked,) = sandbox.requests("request_code")
        assert asked.path == f"{phone_id}/request_code"
        assert asked.body == {"code_method": "SMS", "language": "pt_BR"}

        code = sandbox.verification_code(phone_id)
        assert code is not None
        wrong = "000000" if code != "000000" else "111111"
        refused = await browser.post("/connection/verification/verify", {"code": wrong})
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "verification_code_invalid"
        assert error["message"].startswith("O código está errado ou expirou.")
        assert await attempt_status(db) is AttemptStatus.VERIFICATION_REQUIRED

        done = await browser.post("/connection/verification/verify", {"code": code})
        assert done.status_code == 200, done.text
        assert done.json()["success"] is True
        assert len(sandbox.requests("register")) == 1
        assert sandbox.phone(phone_id).code_verification_status == "VERIFIED"
        status = await browser.status()
        assert (status["status"], status["connection"]["phone_number_id"]) == ("active", phone_id)

    async def test_the_code_never_reaches_a_log_line_or_a_column(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, captured_logs: io.StringIO
    ) -> None:
        phone_id = await unverified(browser, sandbox)
        await browser.post("/connection/verification/request", {"method": "sms"})
        code = sandbox.verification_code(phone_id)
        assert code is not None
        assert (await browser.post("/connection/verification/verify", {"code": code})).status_code == 200
        assert not re.search(rf"(?<!\d){code}(?!\d)", captured_logs.getvalue())
        db.expire_all()
        attempt = await db.scalar(select(EmbeddedSignupAttempt))
        assert attempt is not None and code not in json.dumps(attempt.step_results)

    async def test_the_code_may_come_by_voice_call(self, browser: Browser, sandbox: Sandbox) -> None:
        await unverified(browser, sandbox)
        response = await browser.post("/connection/verification/request", {"method": "voice"})
        assert response.status_code == 200, response.text
        assert sandbox.requests("request_code")[0].body == {"code_method": "VOICE", "language": "pt_BR"}

    @pytest.mark.parametrize(
        ("path", "body", "code"),
        [
            ("/connection/verification/request", {"method": "fax"}, "invalid_request"),
            ("/connection/verification/verify", {"code": "12a"}, "invalid_code"),
            ("/connection/verification/verify", {"code": "1234567"}, "invalid_code"),
        ],
    )
    async def test_bad_input_is_refused_at_the_edge(
        self, browser: Browser, sandbox: Sandbox, path: str, body: dict[str, str], code: str
    ) -> None:
        await unverified(browser, sandbox)
        response = await browser.post(path, body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == code
        assert sandbox.requests("verify_code") == []

    async def test_too_many_codes_requested_is_a_429_with_meta_s_wait(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        await unverified(browser, sandbox)
        for _ in range(3):
            assert (
                await browser.post("/connection/verification/request", {"method": "sms"})
            ).status_code == 200
        response = await browser.post("/connection/verification/request", {"method": "sms"})
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "verification_code_limit"
        assert int(response.headers["retry-after"]) >= 60
        assert len(sandbox.requests("request_code")) == 4  # the refused one once, never retried
        assert await attempt_status(db) is AttemptStatus.VERIFICATION_REQUIRED

    async def test_nothing_waiting_for_a_code_is_a_409(self, browser: Browser) -> None:
        response = await browser.post("/connection/verification/request", {"method": "sms"})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "no_verification_required"


class TestNumberRequired:
    async def test_no_number_add_then_verify_then_active(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        response = await browser.connect(sandbox, "finish_no_number")
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "number_required"
        assert (await browser.status())["status"] == "number_required"

        added = await browser.post("/connection/number", NUMBER)
        assert added.status_code == 200, added.text
        number = added.json()["phone_number"]
        assert added.json()["status"] == "verification_required"
        (created,) = sandbox.requests("add_phone_number")
        assert created.body == {
            "cc": "55",
            "phone_number": "11944445555",
            "verified_name": "Horizonte Plantão",
        }
        status = await browser.status()
        assert (status["status"], status["phone_number"]["id"]) == ("verification_required", number["id"])

        assert (await browser.post("/connection/verification/request", {"method": "sms"})).status_code == 200
        code = sandbox.verification_code(number["id"])
        done = await browser.post("/connection/verification/verify", {"code": code})
        assert done.status_code == 200, done.text
        assert (await browser.status())["connection"]["phone_number_id"] == number["id"]

    @pytest.mark.parametrize(
        "body",
        [
            {**NUMBER, "country_code": "abc"},
            {**NUMBER, "phone_number": "12"},
            {**NUMBER, "verified_name": " "},
            {"country_code": "55"},
        ],
        ids=["country", "number", "name", "missing"],
    )
    async def test_a_malformed_number_is_refused_and_meta_is_not_called(
        self, browser: Browser, sandbox: Sandbox, body: dict[str, str]
    ) -> None:
        await browser.connect(sandbox, "finish_no_number")
        response = await browser.post("/connection/number", body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] in ("invalid_number", "invalid_request")
        assert sandbox.requests("add_phone_number") == []

    async def test_a_number_in_use_elsewhere_is_a_409_and_the_attempt_still_waits(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        await browser.connect(sandbox, "finish_no_number")
        body = {**NUMBER, "phone_number": "11977770000"}
        response = await browser.post("/connection/number", body)
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "number_in_use"
        assert "já está em uso" in error["message"]
        assert await attempt_status(db) is AttemptStatus.NUMBER_REQUIRED
