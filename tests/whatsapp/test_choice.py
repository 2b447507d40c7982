"""Access proven by use, and the admin's choice when Meta's answer names more than one WABA or number
(ARCHITECTURE §14), through the sandbox over a real socket, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.db import utcnow
from qualifica.meta.client import GraphClient
from qualifica.meta.sandbox import Sandbox, SignupResult
from qualifica.meta.sandbox.world import TokenShape
from qualifica.runtime import Runtime
from qualifica.whatsapp.jobs import expire_abandoned
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection
from tests.support.accounts import sign_in
from tests.support.factories import make_user
from tests.support.meta import APP_ID, APP_SECRET
from tests.support.sandbox import LiveSandbox
from tests.support.signup import Browser


def share_another_waba(sandbox: Sandbox, result: SignupResult, name: str = "Horizonte Lançamentos") -> str:
    """The business shares a second WABA with our app: the code's token names both."""
    with sandbox.lock:
        waba = sandbox.world.add_waba(sandbox.world.wabas[str(result.waba_id)].owner_business_id, name)
        sandbox.world.add_phone(waba.id, "+55 11 4002-8922", name, code_verification_status="VERIFIED")
        sandbox.world.codes[str(result.code)].waba_ids.insert(0, waba.id)  # first: never taken for it
    return waba.id


async def callback_without_event(browser: Browser, state: str, result: SignupResult) -> httpx.Response:
    """The page never got Meta's FINISH message: the code alone, no WABA, no number."""
    return await browser.post("/embedded-signup/callback", {"code": result.code, "state": state})


async def attempt_of(db: AsyncSession) -> EmbeddedSignupAttempt:
    db.expire_all()
    attempt: EmbeddedSignupAttempt | None = await db.scalar(select(EmbeddedSignupAttempt))
    assert attempt is not None
    return attempt


class TestAccessProvenByUse:
    @pytest.mark.parametrize("shape", ["june_2026", "legacy"])
    async def test_a_signup_succeeds_with_either_token_shape(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, shape: TokenShape
    ) -> None:
        sandbox.set_token_shape(shape)
        response = await browser.connect(sandbox)
        assert response.status_code == 200, response.text
        assert (await browser.status())["status"] == "active"

    @pytest.mark.parametrize("shape", ["june_2026", "legacy"])
    async def test_shuffled_target_ids_with_the_event_connect_the_events_waba(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, admin: User, shape: TokenShape
    ) -> None:
        organization_id = admin.organization_id
        sandbox.set_token_shape(shape)
        state = await browser.start()
        result = sandbox.complete_signup()
        share_another_waba(sandbox, result)  # listed first in target_ids
        response = await browser.callback(state, result)
        assert response.status_code == 200, response.text
        connection = await db.scalar(
            select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
        )
        assert connection is not None and connection.waba_id == result.waba_id

    async def test_a_june_2026_token_names_no_classic_whatsapp_scope(
        self, browser: Browser, sandbox: Sandbox, live_sandbox: LiveSandbox
    ) -> None:
        """The shape the pipeline must accept: the WABA only under whatsapp_business_manage_events."""
        sandbox.set_token_shape("june_2026")
        result = sandbox.complete_signup()
        async with httpx.AsyncClient() as http:
            graph = GraphClient(
                http, graph_url=live_sandbox.url, version="v25.0", app_id=APP_ID, app_secret=APP_SECRET
            )
            token = (await graph.exchange_code(str(result.code))).access_token
            info = await graph.debug_token(token)
        assert not info.has_legacy_whatsapp_scopes
        assert result.waba_id in info.waba_hints

    async def test_a_waba_whose_reads_meta_refuses_is_not_granted(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        sandbox.set_waba_readable(str(result.waba_id), False)
        response = await browser.callback(state, result)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "waba_not_granted"

    async def test_a_waba_the_token_cannot_read_is_not_granted(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        with sandbox.lock:
            stranger = sandbox.world.add_waba(next(iter(sandbox.world.businesses)), "Alheia")
        response = await browser.callback(state, result, waba_id=stranger.id, phone_number_id=None)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "waba_not_granted"
        assert (await attempt_of(db)).access_token is None  # wiped with the failure

    async def test_a_refused_read_that_is_no_permission_error_is_a_meta_error(
        self, browser: Browser, sandbox: Sandbox
    ) -> None:
        sandbox.fail_next("waba", code=100, message="(#100) Invalid parameter")
        response = await browser.connect(sandbox)
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "meta_error"

    async def test_permission_error_on_the_numbers_is_not_granted(
        self, browser: Browser, sandbox: Sandbox
    ) -> None:
        sandbox.fail_next("phone_number", code=200, message="(#200) Permissions error")
        response = await browser.connect(sandbox)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "waba_not_granted"

    async def test_a_permission_error_on_debug_token_is_no_verdict_on_the_waba(
        self, browser: Browser, sandbox: Sandbox
    ) -> None:
        # debug_token is our app asking about the token: only reads of the WABA and its numbers prove access
        sandbox.fail_next("debug_token", code=200, message="(#200) Permissions error")
        response = await browser.connect(sandbox)
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "meta_error"


class TestChoiceRequired:
    async def test_the_sandboxs_two_wabas_without_event_path_asks_then_connects(
        self, browser: Browser, sandbox: Sandbox
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup("finish_two_wabas_no_event")
        assert not result.posted
        response = await callback_without_event(browser, state, result)
        assert response.status_code == 202, response.text
        wabas = response.json()["choices"]["wabas"]
        assert sorted(waba["name"] for waba in wabas) == ["Prisma Locação", "Prisma Vendas"]
        chosen = await browser.post(
            "/embedded-signup/choose",
            {"attempt_id": response.json()["attempt_id"], "waba_id": wabas[1]["id"]},
        )
        assert chosen.status_code == 200, chosen.text  # that WABA has a single number

    async def test_two_numbers_and_no_number_id_ask_for_the_number(
        self, browser: Browser, sandbox: Sandbox
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup("finish_two_numbers_no_phone_id")
        response = await browser.callback(state, result)
        assert response.status_code == 202, response.text
        numbers = response.json()["choices"]["phone_numbers"]
        assert sorted(number["verified_name"] for number in numbers) == [
            "Costa Azul Plantão",
            "Costa Azul Vendas",
        ]
        chosen = await browser.post(
            "/embedded-signup/choose",
            {
                "attempt_id": response.json()["attempt_id"],
                "waba_id": result.waba_id,
                "phone_number_id": numbers[0]["id"],
            },
        )
        assert chosen.status_code == 200, chosen.text
        assert (await browser.status())["connection"]["phone_number_id"] == numbers[0]["id"]

    async def test_two_wabas_without_the_event_ask_then_connect_the_chosen_one(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, admin: User
    ) -> None:
        organization_id = admin.organization_id
        state = await browser.start()
        result = sandbox.complete_signup()
        other = share_another_waba(sandbox, result)
        response = await callback_without_event(browser, state, result)
        assert response.status_code == 202, response.text
        body = response.json()
        assert (body["success"], body["status"]) == (False, "choice_required")
        wabas = {waba["id"]: waba["name"] for waba in body["choices"]["wabas"]}
        assert wabas == {result.waba_id: "Horizonte Imóveis", other: "Horizonte Lançamentos"}
        assert body["choices"]["phone_numbers"] == []
        status = await browser.status()
        assert (status["status"], status["choices"], status["attempt_id"]) == (
            "choice_required",
            body["choices"],
            body["attempt_id"],
        )
        attempt = await attempt_of(db)
        assert attempt.status is AttemptStatus.CHOICE_REQUIRED
        assert attempt.access_token and attempt.access_token.startswith("v1:")  # sealed while waiting

        # Several numbers in the chosen WABA and none named: the number is asked next.
        chosen = await browser.post(
            "/embedded-signup/choose", {"attempt_id": body["attempt_id"], "waba_id": result.waba_id}
        )
        assert chosen.status_code == 202, chosen.text
        numbers = chosen.json()["choices"]
        assert numbers["wabas"] == [{"id": result.waba_id, "name": "Horizonte Imóveis"}]
        phone_ids = [number["id"] for number in numbers["phone_numbers"]]
        assert result.phone_number_id in phone_ids and len(phone_ids) == 3
        assert all(number["display_phone_number"] for number in numbers["phone_numbers"])

        done = await browser.post(
            "/embedded-signup/choose",
            {
                "attempt_id": body["attempt_id"],
                "waba_id": result.waba_id,
                "phone_number_id": result.phone_number_id,
            },
        )
        assert done.status_code == 200, done.text
        connection = await db.scalar(
            select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
        )
        assert connection is not None
        assert (connection.waba_id, connection.phone_number_id) == (result.waba_id, result.phone_number_id)
        assert (await browser.status())["status"] == "active"

    async def test_one_candidate_and_one_number_connect_without_asking(
        self, browser: Browser, sandbox: Sandbox
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup("finish_new_waba")  # a new WABA with one new number
        response = await callback_without_event(browser, state, result)
        assert response.status_code == 200, response.text

    async def test_the_first_target_id_is_never_taken_for_the_choice(
        self, browser: Browser, sandbox: Sandbox
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        share_another_waba(sandbox, result)
        response = await callback_without_event(browser, state, result)
        assert response.json()["status"] == "choice_required"

    async def test_a_choice_not_offered_is_refused_and_the_attempt_still_waits(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        share_another_waba(sandbox, result)
        attempt_id = (await callback_without_event(browser, state, result)).json()["attempt_id"]
        bad: list[dict[str, Any]] = [
            {"attempt_id": attempt_id, "waba_id": "999999999999999"},
            {"attempt_id": attempt_id, "waba_id": result.waba_id, "phone_number_id": "1"},
        ]
        for body in bad:
            response = await browser.post("/embedded-signup/choose", body)
            assert response.status_code == 422
            assert response.json()["error"]["code"] == "invalid_choice"
        malformed = await browser.post("/embedded-signup/choose", {"attempt_id": attempt_id, "waba_id": "x"})
        assert malformed.status_code == 422
        assert (await attempt_of(db)).status is AttemptStatus.CHOICE_REQUIRED

    async def test_choose_on_an_attempt_no_longer_waiting_is_superseded(
        self, browser: Browser, sandbox: Sandbox
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        other = share_another_waba(sandbox, result)
        attempt_id = (await callback_without_event(browser, state, result)).json()["attempt_id"]
        first = await browser.post("/embedded-signup/choose", {"attempt_id": attempt_id, "waba_id": other})
        assert first.status_code == 200, first.text  # its single number: connected
        again = await browser.post("/embedded-signup/choose", {"attempt_id": attempt_id, "waba_id": other})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "attempt_superseded"

    async def test_a_choice_left_waiting_a_day_expires_and_its_token_is_wiped(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, runtime: Runtime
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        share_another_waba(sandbox, result)
        attempt_id = (await callback_without_event(browser, state, result)).json()["attempt_id"]
        assert await expire_abandoned(runtime, now=utcnow() + timedelta(hours=23)) == 0
        assert await expire_abandoned(runtime, now=utcnow() + timedelta(hours=25)) == 1
        attempt = await attempt_of(db)
        assert (attempt.status, attempt.access_token) == (AttemptStatus.EXPIRED, None)
        late = await browser.post(
            "/embedded-signup/choose", {"attempt_id": attempt_id, "waba_id": result.waba_id}
        )
        assert late.status_code == 409
        assert late.json()["error"]["code"] == "attempt_superseded"

    async def test_only_an_admin_with_the_csrf_header_may_choose(
        self, client: httpx.AsyncClient, browser: Browser, sandbox: Sandbox, admin: User, db: AsyncSession
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        share_another_waba(sandbox, result)
        attempt_id = (await callback_without_event(browser, state, result)).json()["attempt_id"]
        body = {"attempt_id": attempt_id, "waba_id": result.waba_id}
        no_csrf = await client.post("/api/v1/whatsapp/embedded-signup/choose", json=body)
        assert no_csrf.status_code == 403
        organization = await db.get_one(Organization, admin.organization_id)
        member = await make_user(db, organization, role=Role.MEMBER, email="corretor@horizonte.com.br")
        await db.commit()
        client.cookies.clear()
        as_member = Browser(client, await sign_in(client, member))
        response = await as_member.post("/embedded-signup/choose", body)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
