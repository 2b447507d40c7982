from __future__ import annotations

import time

import httpx
import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.flags import WHATSAPP_EMBEDDED_SIGNUP, FeatureFlag, invalidate_cache
from qualifica.meta.client import GraphClient
from qualifica.meta.sandbox import Sandbox
from qualifica.observability.models import AnalyticsEvent
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection
from tests.support.accounts import sign_in
from tests.support.factories import make_user
from tests.support.meta import APP_ID, APP_SECRET
from tests.support.sandbox import LiveSandbox
from tests.support.signup import Browser

SESSION_EXPIRED = {"code": "session_expired", "message": "Sessão expirada. Clique para reconectar."}


async def nothing_saved(db: AsyncSession) -> None:
    db.expire_all()
    assert await db.scalar(select(func.count()).select_from(WhatsAppConnection)) == 0
    attempt = await db.scalar(select(EmbeddedSignupAttempt))
    assert attempt is not None and attempt.status is AttemptStatus.FAILED
    assert (attempt.access_token, attempt.registration_pin) == (None, None)


async def failed_event(db: AsyncSession) -> dict[str, object]:
    event = await db.scalar(select(AnalyticsEvent).where(AnalyticsEvent.name == "Embedded Signup Failed"))
    assert event is not None
    return event.properties


class TestState:
    async def test_tampered_state_is_invalid(self, browser: Browser, sandbox: Sandbox) -> None:
        state = await browser.start()
        response = await browser.callback(state[:-4] + "AAAA", sandbox.complete_signup())
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_state"

    async def test_expired_state_is_a_session_expired(self, browser: Browser, sandbox: Sandbox) -> None:
        state = await browser.start()
        with time_machine.travel(time.time() + 31 * 60, tick=True):
            response = await browser.callback(state, sandbox.complete_signup())
        assert response.status_code == 401
        assert response.json()["error"] == SESSION_EXPIRED

    async def test_state_of_another_admin_is_forbidden(
        self, client: httpx.AsyncClient, admin: User, db: AsyncSession, sandbox: Sandbox
    ) -> None:
        organization = await db.get_one(Organization, admin.organization_id)
        colleague = await make_user(db, organization, role=Role.ADMIN, email="colega@horizonte.com.br")
        await db.commit()
        state = await Browser(client, await sign_in(client, colleague)).start()
        browser = Browser(client, await sign_in(client, admin))
        response = await browser.callback(state, sandbox.complete_signup())
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"

    async def test_same_state_with_another_code_is_refused(self, browser: Browser, sandbox: Sandbox) -> None:
        state = await browser.start()
        first = await browser.callback(state, sandbox.complete_signup())
        assert first.status_code == 200
        second = await browser.callback(state, sandbox.complete_signup())
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "state_already_used"

    async def test_a_retried_callback_gets_the_first_answer(self, browser: Browser, sandbox: Sandbox) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        first = await browser.callback(state, result)
        again = await browser.callback(state, result)
        assert (again.status_code, again.json()) == (first.status_code, first.json()) == (200, first.json())
        assert len(sandbox.requests("oauth_access_token")) == 1

    async def test_a_failed_callback_consumes_its_state(self, browser: Browser, sandbox: Sandbox) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        sandbox.fail_next("oauth_access_token", code=100, message="(#100) Invalid parameter")
        failed = await browser.callback(state, result)
        assert failed.status_code == 502
        replayed = await browser.callback(state, result)
        assert (replayed.status_code, replayed.json()) == (502, failed.json())
        fresh = await browser.callback(state, sandbox.complete_signup())
        assert fresh.status_code == 409

    async def test_callback_after_cancel_is_refused(self, browser: Browser, sandbox: Sandbox) -> None:
        state = await browser.start()
        assert (
            await browser.post("/embedded-signup/cancel", {"state": state, "step": "PERMISSIONS"})
        ).status_code == 204
        response = await browser.callback(state, sandbox.complete_signup())
        assert response.status_code == 409


class TestCodeErrors:
    async def test_expired_code_is_a_session_expired(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        sandbox.advance(31)
        response = await browser.callback(state, result)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "session_expired"
        assert response.json()["error"]["message"] == SESSION_EXPIRED["message"]
        await nothing_saved(db)
        assert await failed_event(db) == {
            "error_code": "100",
            "error_message": SESSION_EXPIRED["message"],
            "step_failed": "token_exchange",
        }
        assert len(sandbox.requests("oauth_access_token")) == 1  # never retried

    async def test_used_code_is_a_session_expired(
        self, browser: Browser, sandbox: Sandbox, live_sandbox: LiveSandbox, db: AsyncSession
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        async with httpx.AsyncClient() as http:
            graph = GraphClient(
                http, graph_url=live_sandbox.url, version="v25.0", app_id=APP_ID, app_secret=APP_SECRET
            )
            await graph.exchange_code(str(result.code))
        response = await browser.callback(state, result)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "session_expired"
        await nothing_saved(db)

    async def test_revoked_token_during_lookup_is_a_session_expired(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        sandbox.fail_next(
            "waba", code=190, message="Error validating access token: the session was invalidated."
        )
        response = await browser.connect(sandbox)
        assert response.status_code == 401
        await nothing_saved(db)
        assert (await failed_event(db))["step_failed"] == "waba_lookup"


class TestWabaGrant:
    async def test_waba_not_granted_saves_nothing(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        other = (
            next(w for w in sandbox.world.wabas.values() if w.id != result.waba_id)
            if len(sandbox.world.wabas) > 1
            else sandbox.world.add_waba(next(iter(sandbox.world.businesses)), "Alheia")
        )
        response = await browser.callback(state, result, waba_id=other.id)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "waba_not_granted"
        await nothing_saved(db)

    async def test_missed_session_event_uses_the_granted_waba_and_asks_for_the_number(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, admin: User
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        response = await browser.post(
            "/embedded-signup/callback", {"code": result.code, "state": state}
        )  # no FINISH message reached the page: no event, no ids
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "choice_required"  # the WABA has three numbers
        response = await browser.post(
            "/embedded-signup/choose",
            {
                "attempt_id": response.json()["attempt_id"],
                "waba_id": result.waba_id,
                "phone_number_id": result.phone_number_id,
            },
        )
        assert response.status_code == 200, response.text
        organization_id = admin.organization_id
        connection = await db.scalar(
            select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
        )
        assert connection is not None and connection.waba_id == result.waba_id


STEPS = [
    ("oauth_access_token", "token_exchange"),
    ("debug_token", "waba_lookup"),
    ("phone_number", "phone_lookup"),
    ("waba", "waba_lookup"),
    ("subscribed_apps", "webhook_subscription"),
    ("register", "registration"),
]


class TestMetaFailures:
    @pytest.mark.parametrize(("endpoint", "step"), STEPS)
    async def test_permanent_failure_fails_the_step_and_saves_nothing(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, endpoint: str, step: str
    ) -> None:
        sandbox.fail_next(endpoint, code=100, message="(#100) Invalid parameter")
        response = await browser.connect(sandbox)
        assert response.status_code == 502
        error = response.json()["error"]
        assert error["code"] == "meta_error"
        assert error["message"] == (
            "Não foi possível conectar. Erro: (#100) Invalid parameter. Entre em contato com suporte."
        )
        assert error["hint"]
        await nothing_saved(db)
        attempt = await db.scalar(select(EmbeddedSignupAttempt))
        assert attempt is not None and attempt.step_failed == step
        assert (await failed_event(db))["error_code"] == "100"
        assert len(sandbox.requests(endpoint)) == 1  # a permanent error is never retried

    @pytest.mark.parametrize(("endpoint", "step"), STEPS)
    @pytest.mark.parametrize(
        "failure",
        # Rate limits (80007 …) are not retried inside a request (ARCHITECTURE §14): not in this list.
        [{"code": 2, "http_status": 500}, {"code": 1, "http_status": 503}, {"code": 131016}],
        ids=["code2-500", "code1-503", "131016"],
    )
    async def test_transient_failure_is_retried_to_success(
        self, browser: Browser, sandbox: Sandbox, endpoint: str, step: str, failure: dict[str, int]
    ) -> None:
        sandbox.fail_next(endpoint, times=2, **failure)
        response = await browser.connect(sandbox)
        assert response.status_code == 200, response.text
        assert len(sandbox.requests(endpoint)) == 3

    async def test_registration_limit_explains_the_wait(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        sandbox.fail_next(
            "register", code=133016, message="(#133016) Account register deregister rate limit exceeded"
        )
        response = await browser.connect(sandbox)
        assert response.status_code == 502
        assert "72 horas" in response.json()["error"]["hint"]
        await nothing_saved(db)
        assert (await failed_event(db))["error_code"] == "133016"


class TestFeatureFlag:
    async def test_flag_off_refuses_start_and_callback(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        state = await browser.start()
        db.add(FeatureFlag(key=WHATSAPP_EMBEDDED_SIGNUP, organization_id=None, enabled=False))
        await db.commit()
        invalidate_cache()  # every process sees a change within 5 s; this one right away
        started = await browser.post("/embedded-signup/start")
        assert started.status_code == 403 and started.json()["error"]["code"] == "feature_disabled"
        finished = await browser.callback(state, sandbox.complete_signup())
        assert finished.status_code == 403 and finished.json()["error"]["code"] == "feature_disabled"
        assert (await browser.status())["status"] == "not_connected"
