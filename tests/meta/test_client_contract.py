"""GraphClient against the live sandbox over a real socket: every method, every error class."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import stamina

from qualifica.meta.client import GraphClient, deadline_in
from qualifica.meta.errors import MetaError, MetaTimeout
from qualifica.meta.sandbox import Sandbox, SignupResult
from qualifica.meta.webhook_subscription import SUBSCRIBED_FIELDS
from tests.meta.test_errors import ERROR_TABLE
from tests.support.meta import APP_ID, APP_SECRET, RETRY_ATTEMPTS
from tests.support.sandbox import LiveSandbox


async def connect(graph: GraphClient, sandbox: Sandbox, path: str = "finish") -> tuple[SignupResult, str]:
    result = sandbox.complete_signup(path)
    assert result.code is not None
    return result, (await graph.exchange_code(result.code)).access_token


class TestHappyPath:
    async def test_every_onboarding_call(self, graph: GraphClient, sandbox: Sandbox) -> None:
        result, token = await connect(graph, sandbox)
        assert token.startswith("EAA")
        info = await graph.debug_token(token)
        assert (info.is_valid, info.type, info.app_id, info.expires_at) == (True, "SYSTEM_USER", APP_ID, 0)
        assert str(result.waba_id) in info.waba_hints
        waba = await graph.get_waba(str(result.waba_id), token=token)
        assert waba.business_name == "Imobiliária Horizonte Ltda"
        assert waba.currency == "BRL"
        numbers = await graph.list_phone_numbers(str(result.waba_id), token=token)
        assert result.phone_number_id in [n.id for n in numbers]
        phone = await graph.get_phone_number(str(result.phone_number_id), token=token)
        assert phone.needs_registration
        await graph.subscribe_app(str(result.waba_id), token=token)
        await graph.subscribe_app(str(result.waba_id), token=token)  # idempotent
        assert [
            a["whatsapp_business_api_data"]["id"]
            for a in await graph.subscribed_apps(str(result.waba_id), token=token)
        ] == [APP_ID]
        await graph.register_phone(str(result.phone_number_id), "246810", token=token)
        registered = await graph.get_phone_number(str(result.phone_number_id), token=token)
        assert (registered.platform_type, registered.status, registered.is_pin_enabled) == (
            "CLOUD_API",
            "CONNECTED",
            True,
        )
        assert not registered.needs_registration
        await graph.deregister_phone(str(result.phone_number_id), token=token)
        await graph.unsubscribe_app(str(result.waba_id), token=token)
        assert await graph.subscribed_apps(str(result.waba_id), token=token) == []
        assert graph.last_usage is not None and graph.last_usage.app is not None

    async def test_coexistence_number_is_already_registered(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        result, token = await connect(graph, sandbox, "coexistence")
        assert result.event == "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
        numbers = await graph.list_phone_numbers(str(result.waba_id), token=token)
        app_number = next(n for n in numbers if n.is_on_biz_app)
        assert app_number.platform_type == "CLOUD_API" and not app_number.needs_registration

    async def test_app_check(self, graph: GraphClient) -> None:
        check = await graph.app_check()
        assert (check.is_valid, check.app_id, check.token_type) == (True, APP_ID, "APP")

    async def test_app_check_reads_the_apps_webhook_subscription(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        sandbox.webhooks.url = "https://leads.example/api/v1/whatsapp/webhook"
        check = await graph.app_check()
        assert check.webhook_fields == list(SUBSCRIBED_FIELDS)
        assert [s["callback_url"] for s in check.webhook_subscriptions] == [sandbox.webhooks.url]

    async def test_app_check_with_wrong_secret(self, live_sandbox: LiveSandbox, graph: GraphClient) -> None:
        wrong = GraphClient(
            graph._http, graph_url=live_sandbox.url, version="v25.0", app_id=APP_ID, app_secret="nope"
        )
        with pytest.raises(MetaError) as caught:
            await wrong.app_check()
        assert (caught.value.code, caught.value.transient) == (1, False)


class TestOpenQuestions:
    async def test_exchange_without_expires_in(self, graph: GraphClient, sandbox: Sandbox) -> None:
        code = sandbox.complete_signup().code
        assert code is not None
        assert (await graph.exchange_code(code)).expires_in is None

    async def test_exchange_with_expires_in_and_expiring_token(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        sandbox.set_token_lifetime(5183944)
        code = sandbox.complete_signup().code
        assert code is not None
        exchange = await graph.exchange_code(code)
        assert exchange.expires_in == 5183944
        info = await graph.debug_token(exchange.access_token)
        assert info.expires_at and not info.never_expires

    async def test_expires_in_sent_for_a_never_expiring_token(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        sandbox.set_token_lifetime(None, send_expires_in=True)
        code = sandbox.complete_signup().code
        assert code is not None
        exchange = await graph.exchange_code(code)
        assert exchange.expires_in is not None
        assert (await graph.debug_token(exchange.access_token)).never_expires


Setup = Callable[[GraphClient, Sandbox], Awaitable[Any]]


async def _expired(graph: GraphClient, sandbox: Sandbox) -> Any:
    code = sandbox.complete_signup().code
    sandbox.advance(31)
    return await graph.exchange_code(str(code))


async def _used(graph: GraphClient, sandbox: Sandbox) -> Any:
    code = str(sandbox.complete_signup().code)
    await graph.exchange_code(code)
    sandbox.clear_requests()
    return await graph.exchange_code(code)


async def _redirect_uri_for_popup_code(graph: GraphClient, sandbox: Sandbox) -> Any:
    return await graph.exchange_code(str(sandbox.complete_signup().code), redirect_uri="")


async def _wrong_secret(graph: GraphClient, sandbox: Sandbox) -> Any:
    other = GraphClient(
        graph._http,
        graph_url=graph._base_url.rsplit("/", 1)[0],
        version="v25.0",
        app_id=APP_ID,
        app_secret="wrong-secret",
    )
    return await other.exchange_code(str(sandbox.complete_signup().code))


async def _wrong_app(graph: GraphClient, sandbox: Sandbox) -> Any:
    other = GraphClient(
        graph._http,
        graph_url=graph._base_url.rsplit("/", 1)[0],
        version="v25.0",
        app_id="999",
        app_secret=APP_SECRET,
    )
    return await other.exchange_code(str(sandbox.complete_signup().code))


async def _revoked(graph: GraphClient, sandbox: Sandbox) -> Any:
    result, token = await connect(graph, sandbox)
    sandbox.revoke_token(token)
    sandbox.clear_requests()
    return await graph.get_waba(str(result.waba_id), token=token)


async def _pin_mismatch(graph: GraphClient, sandbox: Sandbox) -> Any:
    result, token = await connect(graph, sandbox)
    sandbox.set_phone_pin(str(result.phone_number_id), "111111")
    sandbox.clear_requests()
    return await graph.register_phone(str(result.phone_number_id), "222222", token=token)


async def _registration_limit(graph: GraphClient, sandbox: Sandbox) -> Any:
    result, token = await connect(graph, sandbox)
    for _ in range(10):
        await graph.register_phone(str(result.phone_number_id), "123456", token=token)
    sandbox.clear_requests()
    return await graph.register_phone(str(result.phone_number_id), "123456", token=token)


async def _bad_pin(graph: GraphClient, sandbox: Sandbox) -> Any:
    result, token = await connect(graph, sandbox)
    sandbox.clear_requests()
    return await graph.register_phone(str(result.phone_number_id), "12ab", token=token)


async def _not_granted(graph: GraphClient, sandbox: Sandbox) -> Any:
    _, token = await connect(graph, sandbox)
    other = sandbox.complete_signup("finish_new_waba")
    sandbox.clear_requests()
    return await graph.get_waba(str(other.waba_id), token=token)


# (name, setup, endpoint, code, subcode) — the sandbox's own answers, all permanent: never retried.
SANDBOX_ERRORS: list[tuple[str, Setup, str, int, int | None]] = [
    ("code_expired", _expired, "oauth_access_token", 100, 36007),
    ("code_used", _used, "oauth_access_token", 100, 36009),
    ("redirect_uri_on_popup_code", _redirect_uri_for_popup_code, "oauth_access_token", 100, 36008),
    ("wrong_secret", _wrong_secret, "oauth_access_token", 1, None),
    ("wrong_app", _wrong_app, "oauth_access_token", 101, None),
    ("revoked_token", _revoked, "waba", 190, 458),
    ("pin_mismatch", _pin_mismatch, "register", 133005, None),
    ("registration_limit", _registration_limit, "register", 133016, None),
    ("pin_not_six_digits", _bad_pin, "register", 100, None),
    ("waba_not_granted", _not_granted, "waba", 100, 33),
]


class TestSandboxErrors:
    @pytest.mark.parametrize(
        ("setup", "endpoint", "code", "subcode"),
        [e[1:] for e in SANDBOX_ERRORS],
        ids=[e[0] for e in SANDBOX_ERRORS],
    )
    async def test_permanent_and_not_retried(
        self,
        graph: GraphClient,
        sandbox: Sandbox,
        setup: Setup,
        endpoint: str,
        code: int,
        subcode: int | None,
    ) -> None:
        if endpoint == "oauth_access_token":
            sandbox.clear_requests()
        with pytest.raises(MetaError) as caught:
            await setup(graph, sandbox)
        error = caught.value
        assert (error.code, error.subcode, error.transient) == (code, subcode, False)
        assert error.fbtrace_id and error.http_status == 400
        assert len(sandbox.requests(endpoint)) == 1

    async def test_revoked_token_debugs_invalid(self, graph: GraphClient, sandbox: Sandbox) -> None:
        _, token = await connect(graph, sandbox)
        sandbox.revoke_token(token)
        info = await graph.debug_token(token)
        assert not info.is_valid and info.error is not None and info.error.code == 190


INJECTED = [
    (code, subcode, message, status, transient)
    for code, subcode, message, status, transient in ERROR_TABLE
    if message != "Error validating client secret."
]


class TestInjectedErrors:
    @pytest.mark.parametrize(
        ("code", "subcode", "message", "status", "transient"),
        INJECTED,
        ids=[f"{c}-{s}" for c, s, *_ in INJECTED],
    )
    async def test_each_reference_error(
        self,
        graph: GraphClient,
        sandbox: Sandbox,
        code: int,
        subcode: int | None,
        message: str,
        status: int,
        transient: bool,
    ) -> None:
        result, token = await connect(graph, sandbox)
        sandbox.clear_requests()
        sandbox.fail_next("waba", 100, code=code, subcode=subcode, message=message, http_status=status)
        with pytest.raises(MetaError) as caught:
            await graph.get_waba(str(result.waba_id), token=token)
        assert (caught.value.code, caught.value.subcode, caught.value.transient) == (code, subcode, transient)
        assert caught.value.safe_message == message
        # Rate limits are waited out by the caller, not retried inside the request (ARCHITECTURE §14).
        retried = transient and not caught.value.is_rate_limit
        assert len(sandbox.requests("waba")) == (RETRY_ATTEMPTS if retried else 1)

    async def test_retry_then_success(self, graph: GraphClient, sandbox: Sandbox) -> None:
        result, token = await connect(graph, sandbox)
        sandbox.clear_requests()
        sandbox.fail_next("phone_number", 2, code=2)
        phone = await graph.get_phone_number(str(result.phone_number_id), token=token)
        assert phone.id == result.phone_number_id
        assert len(sandbox.requests("phone_number")) == 3

    async def test_exchange_retried_on_transient_error_within_the_code_lifetime(
        self, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        code = str(sandbox.complete_signup().code)
        sandbox.fail_next("oauth_access_token", 1, code=1, message="An unknown error occurred")
        assert (await graph.exchange_code(code)).access_token.startswith("EAA")
        assert len(sandbox.requests("oauth_access_token")) == 2

    async def test_retries_stop_at_the_deadline(self, graph: GraphClient, sandbox: Sandbox) -> None:
        result, token = await connect(graph, sandbox)
        sandbox.clear_requests()
        sandbox.set_latency("waba", 0.1)
        sandbox.fail_next("waba", 100, code=131016)
        started = time.monotonic()
        with stamina.set_testing(True, attempts=50), pytest.raises(MetaError) as caught:
            await graph.get_waba(str(result.waba_id), token=token, deadline=deadline_in(0.45))
        elapsed = time.monotonic() - started
        assert caught.value.transient
        assert 0.4 <= elapsed < 0.8
        assert 3 <= len(sandbox.requests("waba")) <= 5

    async def test_slow_answer_times_out_at_the_deadline(self, graph: GraphClient, sandbox: Sandbox) -> None:
        result, token = await connect(graph, sandbox)
        sandbox.set_latency("waba", 1.0)
        started = time.monotonic()
        with pytest.raises(MetaTimeout) as caught:
            await graph.get_waba(str(result.waba_id), token=token, deadline=deadline_in(0.3))
        assert time.monotonic() - started < 0.6
        assert caught.value.transient and caught.value.code is None

    async def test_non_json_proxy_error_is_transient(self, graph: GraphClient, sandbox: Sandbox) -> None:
        sandbox.fail_next("debug_token", 1, http_status=502, raw_body="<html>502 Bad Gateway</html>")
        _, token = await connect(graph, sandbox)
        assert (await graph.debug_token(token)).is_valid

    async def test_usage_headers_from_the_sandbox(self, graph: GraphClient, sandbox: Sandbox) -> None:
        sandbox.set_usage(
            app={"call_count": 95, "total_cputime": 10, "total_time": 20},
            business={
                "77": [
                    {
                        "type": "whatsapp_business_management",
                        "call_count": 40,
                        "total_cputime": 1,
                        "total_time": 1,
                        "estimated_time_to_regain_access": 3,
                    }
                ]
            },
        )
        await graph.app_check()
        assert graph.last_usage is not None and graph.last_usage.max_percent == 95
        assert graph.last_usage.business_use_case["77"][0].estimated_time_to_regain_access == 3
