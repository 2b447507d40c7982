"""The sandbox is December 2026's Meta (ARCHITECTURE §14): token shapes, shuffled target_ids, several WABAs
and numbers, ES v4 endings, number verification and addition, rate limits with their usage header.

Through ``GraphClient`` over a real socket, as the service meets it; the control API over HTTP where a test
drives the sandbox as a person or another process would.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest

from qualifica.meta.client import GraphClient
from qualifica.meta.errors import MetaError
from qualifica.meta.sandbox import AUTO_PATHS, Sandbox, SignupResult
from qualifica.meta.sandbox.world import COSTA, PRISMA
from tests.support.meta import APP_ID
from tests.support.sandbox import LiveSandbox


async def connect(graph: GraphClient, sandbox: Sandbox, path: str = "finish") -> tuple[SignupResult, str]:
    result = sandbox.complete_signup(path)
    assert result.code is not None
    return result, (await graph.exchange_code(result.code)).access_token


def waba_ids_of(sandbox: Sandbox, business: str) -> set[str]:
    owner = sandbox.world.business_named(business)
    return {w.id for w in sandbox.world.wabas_of(owner.id)}


class TestTokenShapes:
    def test_a_fresh_sandbox_mints_the_june_2026_shape(self) -> None:
        from qualifica.meta.credentials import MetaAppCredentials

        fresh = Sandbox(MetaAppCredentials(APP_ID, "s", "c"))
        assert fresh.scenario.token_shape == "june_2026"
        fresh.webhooks.close()

    async def test_june_2026_shape_has_no_classic_whatsapp_scope(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        sandbox.set_token_shape("june_2026")
        result, token = await connect(graph, sandbox)
        info = await graph.debug_token(token)
        assert info.is_valid and info.type == "SYSTEM_USER"
        assert set(info.scopes) == {
            "business_management",
            "whatsapp_business_manage_events",
            "public_profile",
        }
        assert {g.scope for g in info.granular_scopes} == {
            "business_management",
            "whatsapp_business_manage_events",
        }
        assert not info.has_legacy_whatsapp_scopes
        assert info.portfolio_ids == {result.data["business_id"]}
        assert info.waba_hints == {result.waba_id}

    async def test_legacy_shape_over_http_control(
        self, graph: GraphClient, sandbox: Sandbox, live_sandbox: LiveSandbox, http: httpx.AsyncClient
    ) -> None:
        sandbox.set_token_shape("june_2026")
        answer = await http.post(live_sandbox.url + "/_control/token-shape", json={"shape": "legacy"})
        assert answer.status_code == 200 and sandbox.scenario.token_shape == "legacy"
        result, token = await connect(graph, sandbox)
        info = await graph.debug_token(token)
        assert info.has_legacy_whatsapp_scopes
        assert info.waba_hints == {result.waba_id}
        refused = await http.post(live_sandbox.url + "/_control/token-shape", json={"shape": "2019"})
        assert refused.status_code == 400

    async def test_a_token_keeps_the_shape_it_was_minted_with(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        sandbox.set_token_shape("legacy")
        _, token = await connect(graph, sandbox)
        sandbox.set_token_shape("june_2026")
        assert (await graph.debug_token(token)).has_legacy_whatsapp_scopes


class TestSeveralWabas:
    async def test_a_token_lists_every_shared_waba_in_varying_order(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        sandbox.set_token_shape("june_2026")
        orders = set()
        for _ in range(8):
            _, token = await connect(graph, sandbox, "finish_two_wabas_no_event")
            info = await graph.debug_token(token)
            assert info.waba_hints == waba_ids_of(sandbox, PRISMA)
            (events,) = [g for g in info.granular_scopes if g.scope == "whatsapp_business_manage_events"]
            orders.add(tuple(events.target_ids))
        assert len(orders) == 2  # both orders show up: position means nothing

    def test_the_order_follows_the_seed(self) -> None:
        from qualifica.meta.credentials import MetaAppCredentials
        from qualifica.meta.sandbox.graph_objects import GraphObjects

        def orders(seed: int) -> list[list[str]]:
            sandbox = Sandbox(MetaAppCredentials(APP_ID, "s", "c"), seed=seed)
            objects = GraphObjects(sandbox)
            minted = [objects.mint_business_token("b", ["1", "2", "3", "4"]) for _ in range(5)]
            sandbox.webhooks.close()
            return [sandbox.world.tokens[m["access_token"]].waba_ids for m in minted]

        assert orders(7) == orders(7)
        assert len({tuple(o) for o in orders(7)}) > 1

    async def test_two_wabas_without_the_session_event(self, graph: GraphClient, sandbox: Sandbox) -> None:
        result, token = await connect(graph, sandbox, "finish_two_wabas_no_event")
        assert not result.posted and result.version == 4
        assert result.waba_id in waba_ids_of(sandbox, PRISMA)
        for waba_id in waba_ids_of(sandbox, PRISMA):  # the token reads both
            assert (await graph.get_waba(waba_id, token=token)).business_name == PRISMA
            assert len(await graph.list_phone_numbers(waba_id, token=token)) == 1

    async def test_two_wabas_with_the_session_event(self, graph: GraphClient, sandbox: Sandbox) -> None:
        prisma = sandbox.world.business_named(PRISMA).id
        result = sandbox.complete_signup("finish_existing_number", business_id=prisma)
        assert result.posted and result.code is not None
        token = (await graph.exchange_code(result.code)).access_token
        info = await graph.debug_token(token)
        assert result.waba_id in info.waba_hints == waba_ids_of(sandbox, PRISMA)

    async def test_a_waba_with_two_numbers_and_no_phone_number_id(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        result, token = await connect(graph, sandbox, "finish_two_numbers_no_phone_id")
        assert result.event == "FINISH_ONLY_WABA" and result.version == 4
        assert result.phone_number_id is None and result.waba_id in waba_ids_of(sandbox, COSTA)
        numbers = await graph.list_phone_numbers(str(result.waba_id), token=token)
        assert len(numbers) == 2
        assert {n.code_verification_status for n in numbers} == {"VERIFIED"}

    async def test_a_waba_the_token_cannot_read_answers_a_permission_error(
        self, graph: GraphClient, sandbox: Sandbox, live_sandbox: LiveSandbox, http: httpx.AsyncClient
    ) -> None:
        result, token = await connect(graph, sandbox)
        url = f"{live_sandbox.url}/_control/wabas/{result.waba_id}/readable"
        assert (await http.post(url, json={"readable": False})).status_code == 200
        for read in (graph.get_waba, graph.list_phone_numbers):
            with pytest.raises(MetaError) as caught:
                await read(str(result.waba_id), token=token)
            assert (caught.value.code, caught.value.subcode, caught.value.http_status) == (200, 1349174, 403)
            assert not caught.value.transient


class TestV4Endings:
    async def test_finish_with_an_unverified_number(self, graph: GraphClient, sandbox: Sandbox) -> None:
        result, token = await connect(graph, sandbox, "finish_unverified_number")
        assert (result.event, result.version) == ("FINISH", 4) and result.phone_number_id
        phone = await graph.get_phone_number(result.phone_number_id, token=token)
        assert phone.code_verification_status == "UNVERIFIED"
        with pytest.raises(MetaError) as caught:
            await graph.register_phone(result.phone_number_id, "123456", token=token)
        assert caught.value.code == 133006

    async def test_finish_with_no_number(self, graph: GraphClient, sandbox: Sandbox) -> None:
        result, token = await connect(graph, sandbox, "finish_no_number")
        assert (result.event, result.version) == ("FINISH", 4)
        assert result.phone_number_id is None and result.data["business_id"]
        assert await graph.list_phone_numbers(str(result.waba_id), token=token) == []

    def test_the_new_paths_are_auto_paths(self) -> None:
        for path in (
            "finish_unverified_number",
            "finish_no_number",
            "finish_two_wabas_no_event",
            "finish_two_numbers_no_phone_id",
        ):
            assert path in AUTO_PATHS

    async def test_the_older_endings_keep_version_3(self, sandbox: Sandbox) -> None:
        assert sandbox.complete_signup("finish").version == 3
        assert sandbox.complete_signup("finish_only_waba").event == "FINISH_ONLY_WABA"

    def test_the_path_decides_whatever_the_popups_auto_mode(self, sandbox: Sandbox) -> None:
        sandbox.set_auto("finish_two_wabas_no_event")
        result = sandbox.complete_signup("finish")
        assert (result.posted, result.version) == (True, 3)
        assert not sandbox.complete_signup("finish_two_wabas_no_event").posted


class TestVerification:
    async def test_code_by_voice_then_wrong_then_right_then_register(
        self, graph: GraphClient, sandbox: Sandbox, live_sandbox: LiveSandbox, http: httpx.AsyncClient
    ) -> None:
        result, token = await connect(graph, sandbox, "finish_unverified_number")
        phone_id = str(result.phone_number_id)
        await graph.request_code(phone_id, token=token, method="VOICE")
        (sent,) = sandbox.requests("request_code")
        assert sent.method == "POST" and sent.body == {"code_method": "VOICE", "language": "pt_BR"}
        code = (await http.get(f"{live_sandbox.url}/_control/phones/{phone_id}/code")).json()["code"]
        assert code == sandbox.verification_code(phone_id) and len(code) == 6
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        with pytest.raises(MetaError) as caught:
            await graph.verify_code(phone_id, token=token, code=wrong)
        assert (caught.value.code, caught.value.http_status) == (100, 422)
        assert caught.value.safe_message == "The verification code is invalid or has expired"
        await graph.verify_code(phone_id, token=token, code=code)
        assert sandbox.phone(phone_id).code_verification_status == "VERIFIED"
        with pytest.raises(MetaError):  # single use
            await graph.verify_code(phone_id, token=token, code=code)
        await graph.register_phone(phone_id, "123456", token=token)
        assert sandbox.phone(phone_id).status == "CONNECTED"

    async def test_an_expired_code_is_refused(self, graph: GraphClient, sandbox: Sandbox) -> None:
        result, token = await connect(graph, sandbox, "finish_unverified_number")
        phone_id = str(result.phone_number_id)
        await graph.request_code(phone_id, token=token, method="SMS")
        sandbox.advance(11 * 60)
        with pytest.raises(MetaError) as caught:
            await graph.verify_code(phone_id, token=token, code=str(sandbox.verification_code(phone_id)))
        assert caught.value.code == 100

    async def test_too_many_codes_is_a_rate_limit_with_its_wait(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        result, token = await connect(graph, sandbox, "finish_unverified_number")
        phone_id = str(result.phone_number_id)
        for _ in range(3):
            await graph.request_code(phone_id, token=token, method="SMS")
        with pytest.raises(MetaError) as caught:
            await graph.request_code(phone_id, token=token, method="SMS")
        error = caught.value
        assert (error.code, error.subcode, error.http_status) == (4, 2446079, 429)
        assert error.is_rate_limit and error.retry_after == 60 * 60
        assert len(sandbox.requests("request_code")) == 4  # the client did not hammer it

    async def test_a_verified_number_is_not_eligible(self, graph: GraphClient, sandbox: Sandbox) -> None:
        result, token = await connect(graph, sandbox, "finish_existing_number")
        with pytest.raises(MetaError) as caught:
            await graph.request_code(str(result.phone_number_id), token=token, method="SMS")
        assert (caught.value.code, caught.value.http_status) == (100, 422)

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({"code_method": "EMAIL", "language": "pt_BR"}, "code_method must be SMS or VOICE"),
            ({"code_method": "SMS", "language": "portuguese"}, "language"),
        ],
    )
    async def test_bad_request_code_bodies(
        self,
        graph: GraphClient,
        sandbox: Sandbox,
        live_sandbox: LiveSandbox,
        http: httpx.AsyncClient,
        body: dict[str, str],
        message: str,
    ) -> None:
        result, token = await connect(graph, sandbox, "finish_unverified_number")
        answer = await http.post(
            f"{live_sandbox.url}/v26.0/{result.phone_number_id}/request_code",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == 100 and message in answer.json()["error"]["message"]


class TestAddNumber:
    async def test_add_then_verify(self, graph: GraphClient, sandbox: Sandbox) -> None:
        result, token = await connect(graph, sandbox, "finish_no_number")
        waba_id = str(result.waba_id)
        phone_id = await graph.add_phone_number(
            waba_id, token=token, cc="55", phone_number="11987650002", verified_name="Lima & Filhos"
        )
        (added,) = await graph.list_phone_numbers(waba_id, token=token)
        assert added.id == phone_id and added.code_verification_status == "UNVERIFIED"
        assert added.display_phone_number == "+55 11 98765-0002"
        await graph.request_code(phone_id, token=token, method="SMS")
        await graph.verify_code(phone_id, token=token, code=str(sandbox.verification_code(phone_id)))
        assert sandbox.phone(phone_id).code_verification_status == "VERIFIED"

    @pytest.mark.parametrize("number", ["11977770000", "1130901234"])
    async def test_a_number_in_use_elsewhere_is_refused(
        self, graph: GraphClient, sandbox: Sandbox, number: str
    ) -> None:
        result, token = await connect(graph, sandbox, "finish_no_number")
        with pytest.raises(MetaError) as caught:
            await graph.add_phone_number(
                str(result.waba_id), token=token, cc="55", phone_number=number, verified_name="Lima"
            )
        assert (caught.value.code, caught.value.http_status) == (100, 409)
        assert caught.value.safe_message == "Phone number is already registered with WhatsApp Business"

    async def test_a_malformed_number_is_refused(self, graph: GraphClient, sandbox: Sandbox) -> None:
        result, token = await connect(graph, sandbox, "finish_no_number")
        with pytest.raises(MetaError) as caught:
            await graph.add_phone_number(
                str(result.waba_id), token=token, cc="55", phone_number="0123", verified_name="Lima"
            )
        assert (caught.value.code, caught.value.http_status) == (100, 400)

    async def test_an_injected_failure_hits_only_the_addition(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        result, token = await connect(graph, sandbox, "finish_no_number")
        sandbox.fail_next("add_phone_number", code=100, message="x")
        assert await graph.list_phone_numbers(str(result.waba_id), token=token) == []
        with pytest.raises(MetaError):
            await graph.add_phone_number(
                str(result.waba_id), token=token, cc="55", phone_number="11987650002", verified_name="Lima"
            )


class TestRateLimitAnswers:
    async def test_injected_rate_limit_carries_the_regain_time(
        self, graph: GraphClient, sandbox: Sandbox, live_sandbox: LiveSandbox, http: httpx.AsyncClient
    ) -> None:
        result, token = await connect(graph, sandbox)
        body = {"endpoint": "waba", "code": 80007, "regain_minutes": 5}
        assert (await http.post(live_sandbox.url + "/_control/failures", json=body)).status_code == 200
        raw = await http.get(
            f"{live_sandbox.url}/v26.0/{result.waba_id}", headers={"Authorization": f"Bearer {token}"}
        )
        usage = json.loads(raw.headers["x-business-use-case-usage"])
        assert usage[str(result.waba_id)][0]["estimated_time_to_regain_access"] == 5
        sandbox.fail_next("waba", code=80007, regain_minutes=5)
        with pytest.raises(MetaError) as caught:
            await graph.get_waba(str(result.waba_id), token=token)
        assert caught.value.is_rate_limit and caught.value.retry_after == 300
        assert len(sandbox.requests("waba")) == 2  # one by hand, one by the client: no retry

    async def test_rate_limit_on_every_call_the_service_makes(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        result, token = await connect(graph, sandbox, "finish_unverified_number")
        waba_id, phone_id = str(result.waba_id), str(result.phone_number_id)
        calls: dict[str, Callable[[], Awaitable[object]]] = {
            "debug_token": lambda: graph.debug_token(token),
            "waba": lambda: graph.get_waba(waba_id, token=token),
            "phone_numbers": lambda: graph.list_phone_numbers(waba_id, token=token),
            "phone_number": lambda: graph.get_phone_number(phone_id, token=token),
            "subscribed_apps": lambda: graph.subscribe_app(waba_id, token=token),
            "request_code": lambda: graph.request_code(phone_id, token=token, method="SMS"),
            "verify_code": lambda: graph.verify_code(phone_id, token=token, code="123456"),
            "add_phone_number": lambda: graph.add_phone_number(
                waba_id, token=token, cc="55", phone_number="11987650009", verified_name="Horizonte"
            ),
            "register": lambda: graph.register_phone(phone_id, "123456", token=token),
            "smb_app_data": lambda: graph.request_smb_app_data(phone_id, token=token, sync_type="history"),
        }
        for endpoint, call in calls.items():
            sandbox.fail_next(endpoint, code=80007, regain_minutes=2)
            with pytest.raises(MetaError) as caught:
                await call()
            assert caught.value.retry_after == 120, endpoint
        assert sandbox.scenario.failures == {k: v for k, v in sandbox.scenario.failures.items() if not v}
