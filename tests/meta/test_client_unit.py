"""GraphClient against ``httpx.MockTransport``: the exact requests we send, and how answers are handled."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from qualifica.meta.client import GraphClient, deadline_in
from qualifica.meta.errors import MetaError, MetaTimeout, MetaTransportError

APP_ID, SECRET, TOKEN = "1111", "unit-secret-abc", "EAAunit-token"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(payload: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.Response(200, json=payload, headers=headers)


def meta_error(code: int, status: int = 400, **extra: Any) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "error": {
                "message": f"(#{code}) x",
                "type": "OAuthException",
                "code": code,
                "fbtrace_id": "Ab",
                **extra,
            }
        },
    )


SUCCESS = ok({"success": True})


async def client_for(recorder: Recorder) -> tuple[GraphClient, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return GraphClient(
        http, graph_url="https://graph.test/", version="v25.0", app_id=APP_ID, app_secret=SECRET
    ), http


async def call(recorder: Recorder, name: str, /, *args: Any, **kwargs: Any) -> Any:
    client, http = await client_for(recorder)
    async with http:
        return await getattr(client, name)(*args, **kwargs)


def metric(endpoint: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "qualifica_meta_graph_requests_total", {"endpoint": endpoint, "outcome": outcome}
    )
    return value or 0.0


class TestOutgoingRequests:
    async def test_popup_code_exchange_sends_exactly_id_secret_and_code(self) -> None:
        recorder = Recorder(ok({"access_token": "EAAnew", "token_type": "bearer"}))
        exchange = await call(recorder, "exchange_code", "AQcode")
        (request,) = recorder.requests
        assert request.method == "GET"
        assert request.url.path == "/v25.0/oauth/access_token"
        assert dict(request.url.params) == {"client_id": APP_ID, "client_secret": SECRET, "code": "AQcode"}
        assert "redirect_uri" not in request.url.params
        assert "authorization" not in request.headers
        assert (exchange.access_token, exchange.expires_in) == ("EAAnew", None)

    async def test_redirect_code_exchange_repeats_the_redirect_uri(self) -> None:
        recorder = Recorder(ok({"access_token": "EAAnew", "token_type": "bearer", "expires_in": 5183944}))
        exchange = await call(recorder, "exchange_code", "AQcode", redirect_uri="https://app.test/cb")
        assert recorder.requests[0].url.params["redirect_uri"] == "https://app.test/cb"
        assert exchange.expires_in == 5183944

    async def test_debug_token_uses_the_app_token(self) -> None:
        recorder = Recorder(ok({"data": {"is_valid": True, "type": "SYSTEM_USER", "app_id": APP_ID}}))
        info = await call(recorder, "debug_token", TOKEN)
        (request,) = recorder.requests
        assert request.url.path == "/v25.0/debug_token"
        assert dict(request.url.params) == {"input_token": TOKEN, "access_token": f"{APP_ID}|{SECRET}"}
        assert info.type == "SYSTEM_USER"

    async def test_get_waba_asks_for_fields_with_the_business_token(self) -> None:
        recorder = Recorder(ok({"id": "77", "name": "W", "owner_business_info": {"id": "5", "name": "B"}}))
        waba = await call(recorder, "get_waba", "77", token=TOKEN)
        (request,) = recorder.requests
        assert request.url.path == "/v25.0/77"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert {"name", "owner_business_info", "currency", "timezone_id"} <= set(
            request.url.params["fields"].split(",")
        )
        assert "access_token" not in request.url.params
        assert waba.business_name == "B"

    async def test_phone_numbers_follow_the_after_cursor(self) -> None:
        recorder = Recorder(
            ok(
                {
                    "data": [{"id": "1"}],
                    "paging": {"cursors": {"after": "CUR"}, "next": "https://graph.test/n"},
                }
            ),
            ok({"data": [{"id": "2"}], "paging": {"cursors": {"after": "END"}}}),
        )
        numbers = await call(recorder, "list_phone_numbers", "77", token=TOKEN)
        assert [n.id for n in numbers] == ["1", "2"]
        assert [r.url.path for r in recorder.requests] == ["/v25.0/77/phone_numbers"] * 2
        assert "after" not in recorder.requests[0].url.params
        assert recorder.requests[1].url.params["after"] == "CUR"

    async def test_get_phone_number(self) -> None:
        recorder = Recorder(
            ok({"id": "9", "display_phone_number": "+55 11 3090-1234", "throughput": {"level": "STANDARD"}})
        )
        phone = await call(recorder, "get_phone_number", "9", token=TOKEN)
        assert recorder.requests[0].url.path == "/v25.0/9"
        assert "is_on_biz_app" in recorder.requests[0].url.params["fields"]
        assert phone.throughput_level == "STANDARD"

    async def test_subscribe_posts_without_body_unless_overriding(self) -> None:
        recorder = Recorder(SUCCESS)
        await call(recorder, "subscribe_app", "77", token=TOKEN)
        await call(
            recorder,
            "subscribe_app",
            "77",
            token=TOKEN,
            override_callback_uri="https://x.test/wh",
            verify_token="vt",
        )
        plain, override = recorder.requests
        assert (plain.method, plain.url.path, plain.content) == ("POST", "/v25.0/77/subscribed_apps", b"")
        assert json.loads(override.content) == {
            "override_callback_uri": "https://x.test/wh",
            "verify_token": "vt",
        }
        assert plain.headers["authorization"] == f"Bearer {TOKEN}"

    async def test_unsubscribe_deletes(self) -> None:
        recorder = Recorder(SUCCESS)
        await call(recorder, "unsubscribe_app", "77", token=TOKEN)
        assert (recorder.requests[0].method, recorder.requests[0].url.path) == (
            "DELETE",
            "/v25.0/77/subscribed_apps",
        )

    async def test_register_sends_messaging_product_and_pin(self) -> None:
        recorder = Recorder(SUCCESS)
        await call(recorder, "register_phone", "9", "581063", token=TOKEN)
        (request,) = recorder.requests
        assert (request.method, request.url.path) == ("POST", "/v25.0/9/register")
        assert json.loads(request.content) == {"messaging_product": "whatsapp", "pin": "581063"}
        assert request.headers["content-type"] == "application/json"

    async def test_deregister(self) -> None:
        recorder = Recorder(SUCCESS)
        await call(recorder, "deregister_phone", "9", token=TOKEN)
        assert (recorder.requests[0].method, recorder.requests[0].url.path) == ("POST", "/v25.0/9/deregister")

    async def test_app_check_mints_inspects_and_reads_the_app(self) -> None:
        recorder = Recorder(
            ok({"access_token": f"{APP_ID}|minted", "token_type": "bearer"}),
            ok({"data": {"is_valid": True, "type": "APP", "app_id": APP_ID, "application": "Q"}}),
            ok({"id": APP_ID, "name": "Qualifica"}),
            ok(
                {
                    "data": [
                        {
                            "object": "whatsapp_business_account",
                            "fields": [{"name": "messages", "version": "v25.0"}],
                        }
                    ]
                }
            ),
        )
        check = await call(recorder, "app_check")
        grant, debug, app, subs = recorder.requests
        assert dict(grant.url.params) == {
            "grant_type": "client_credentials",
            "client_id": APP_ID,
            "client_secret": SECRET,
        }
        assert debug.url.params["input_token"] == f"{APP_ID}|minted"
        assert (app.url.path, subs.url.path) == (f"/v25.0/{APP_ID}", f"/v25.0/{APP_ID}/subscriptions")
        assert check.is_valid and check.token_type == "APP" and check.name == "Qualifica"
        assert check.webhook_fields == ["messages"]

    async def test_app_check_flags_a_token_of_another_app(self) -> None:
        recorder = Recorder(
            ok({"access_token": "x|y"}),
            ok({"data": {"is_valid": True, "type": "APP", "app_id": "other"}}),
            ok({"id": APP_ID}),
            ok({"data": []}),
        )
        assert not (await call(recorder, "app_check")).is_valid


class TestVerificationAndCoexistenceCalls:
    async def test_request_code_posts_method_and_language_as_json(self) -> None:
        recorder = Recorder(SUCCESS)
        assert await call(recorder, "request_code", "9", token=TOKEN, method="VOICE") is None
        (request,) = recorder.requests
        assert (request.method, request.url.path) == ("POST", "/v25.0/9/request_code")
        assert json.loads(request.content) == {"code_method": "VOICE", "language": "pt_BR"}
        assert request.headers["authorization"] == f"Bearer {TOKEN}"

    async def test_request_code_takes_another_language(self) -> None:
        recorder = Recorder(SUCCESS)
        await call(recorder, "request_code", "9", token=TOKEN, method="SMS", language="en_US")
        assert json.loads(recorder.requests[0].content) == {"code_method": "SMS", "language": "en_US"}

    async def test_verify_code_posts_the_code_and_accepts_the_id_in_the_answer(self) -> None:
        recorder = Recorder(ok({"success": True, "id": "9"}))
        assert await call(recorder, "verify_code", "9", token=TOKEN, code="123456") is None
        (request,) = recorder.requests
        assert (request.method, request.url.path) == ("POST", "/v25.0/9/verify_code")
        assert json.loads(request.content) == {"code": "123456"}

    async def test_wrong_code_is_a_permanent_error_without_the_code_in_it(self) -> None:
        answer = meta_error(100, 422, message="Code 654321 is invalid or expired")
        recorder = Recorder(answer, SUCCESS)
        with pytest.raises(MetaError) as caught:
            await call(recorder, "verify_code", "9", token=TOKEN, code="654321")
        assert caught.value.code == 100 and not caught.value.transient
        assert "654321" not in str(caught.value) and len(recorder.requests) == 1

    async def test_verify_code_without_success_is_an_error(self) -> None:
        with pytest.raises(MetaError, match="success"):
            await call(Recorder(ok({"success": False})), "verify_code", "9", token=TOKEN, code="123456")

    async def test_add_phone_number_posts_cc_number_and_name_and_returns_the_id(self) -> None:
        recorder = Recorder(ok({"id": "510000000000011"}))
        phone_id = await call(
            recorder,
            "add_phone_number",
            "77",
            token=TOKEN,
            cc="55",
            phone_number="11987650002",
            verified_name="Imobiliária Exemplo",
        )
        assert phone_id == "510000000000011"
        (request,) = recorder.requests
        assert (request.method, request.url.path) == ("POST", "/v25.0/77/phone_numbers")
        assert json.loads(request.content) == {
            "cc": "55",
            "phone_number": "11987650002",
            "verified_name": "Imobiliária Exemplo",
        }

    @pytest.mark.parametrize("sync_type", ["smb_app_state_sync", "history"])
    async def test_smb_app_data_posts_the_sync_type_and_returns_the_request_id(self, sync_type: str) -> None:
        recorder = Recorder(ok({"messaging_product": "whatsapp", "request_id": "REQ-1"}))
        assert await call(recorder, "request_smb_app_data", "9", token=TOKEN, sync_type=sync_type) == "REQ-1"
        (request,) = recorder.requests
        assert (request.method, request.url.path) == ("POST", "/v25.0/9/smb_app_data")
        assert json.loads(request.content) == {"messaging_product": "whatsapp", "sync_type": sync_type}

    async def test_smb_app_data_twice_is_meta_s_permanent_refusal(self) -> None:
        recorder = Recorder(meta_error(2593107), SUCCESS)
        with pytest.raises(MetaError) as caught:
            await call(recorder, "request_smb_app_data", "9", token=TOKEN, sync_type="history")
        assert caught.value.code == 2593107 and not caught.value.transient
        assert len(recorder.requests) == 1


def buc_usage(minutes: float) -> dict[str, str]:
    entry = {
        "type": "whatsapp_business_management",
        "call_count": 100,
        "total_cputime": 10,
        "total_time": 10,
        "estimated_time_to_regain_access": minutes,
    }
    return {"X-Business-Use-Case-Usage": json.dumps({"77": [entry]})}


class TestRateLimits:
    @pytest.mark.parametrize("code", [4, 17, 32, 613, 80007, 80008, 130429])
    async def test_a_rate_limit_is_not_retried_inside_the_request(self, code: int) -> None:
        recorder = Recorder(meta_error(code, is_transient=True), ok({"id": "77"}))
        with pytest.raises(MetaError) as caught:
            await call(recorder, "get_waba", "77", token=TOKEN)
        assert caught.value.is_rate_limit and caught.value.transient
        assert len(recorder.requests) == 1

    async def test_retry_after_comes_from_the_regain_time_in_minutes(self) -> None:
        answer = httpx.Response(
            400, json={"error": {"message": "(#80007) Rate limit issue", "code": 80007}}, headers=buc_usage(7)
        )
        with pytest.raises(MetaError) as caught:
            await call(Recorder(answer), "request_code", "9", token=TOKEN, method="SMS")
        assert caught.value.retry_after == 7 * 60

    async def test_without_a_regain_time_retry_after_is_none(self) -> None:
        for headers in ({}, buc_usage(0)):
            answer = httpx.Response(400, json={"error": {"message": "(#4) x", "code": 4}}, headers=headers)
            with pytest.raises(MetaError) as caught:
                await call(Recorder(answer), "get_waba", "77", token=TOKEN)
            assert caught.value.is_rate_limit and caught.value.retry_after is None

    async def test_other_transient_errors_are_still_retried(self) -> None:
        recorder = Recorder(meta_error(131016, 500), ok({"id": "77"}))
        assert (await call(recorder, "get_waba", "77", token=TOKEN)).id == "77"
        assert len(recorder.requests) == 2


class TestAnswers:
    async def test_transient_error_is_retried_then_succeeds(self) -> None:
        before = metric("waba", "transient_error"), metric("waba", "ok")
        recorder = Recorder(meta_error(2, 500, is_transient=True), meta_error(1), ok({"id": "77"}))
        assert (await call(recorder, "get_waba", "77", token=TOKEN)).id == "77"
        assert len(recorder.requests) == 3
        assert metric("waba", "transient_error") - before[0] == 2
        assert metric("waba", "ok") - before[1] == 1

    async def test_permanent_error_is_not_retried(self) -> None:
        before = metric("register", "permanent_error")
        recorder = Recorder(meta_error(133005), SUCCESS)
        with pytest.raises(MetaError) as caught:
            await call(recorder, "register_phone", "9", "123456", token=TOKEN)
        assert caught.value.is_pin_mismatch and not caught.value.transient
        assert len(recorder.requests) == 1
        assert metric("register", "permanent_error") - before == 1

    async def test_expired_code_counts_as_permanent(self) -> None:
        before = metric("oauth_access_token", "permanent_error")
        recorder = Recorder(meta_error(100, error_subcode=36007))
        with pytest.raises(MetaError) as caught:
            await call(recorder, "exchange_code", "AQold")
        assert caught.value.is_code_expired
        assert len(recorder.requests) == 1
        assert metric("oauth_access_token", "permanent_error") - before == 1

    async def test_exchange_is_not_attempted_after_the_code_lifetime(self) -> None:
        recorder = Recorder(ok({"access_token": "EAA"}))
        with pytest.raises(MetaTimeout):
            await call(recorder, "exchange_code", "AQ", code_received_at=time.monotonic() - 31)
        assert recorder.requests == []

    async def test_past_deadline_sends_nothing(self) -> None:
        recorder = Recorder(ok({"id": "1"}))
        with pytest.raises(MetaTimeout):
            await call(recorder, "get_waba", "1", token=TOKEN, deadline=deadline_in(-1))
        assert recorder.requests == []

    async def test_timeout_is_a_transient_transport_error(self) -> None:
        recorder = Recorder(httpx.ReadTimeout("timed out"))
        with pytest.raises(MetaTimeout) as caught:
            await call(recorder, "get_waba", "1", token=TOKEN)
        assert caught.value.transient and caught.value.code is None
        assert len(recorder.requests) == 5  # retried up to the attempts stamina allows in tests

    async def test_connection_error_hides_the_url(self) -> None:
        recorder = Recorder(httpx.ConnectError(f"failed https://graph.test/?client_secret={SECRET}"))
        with pytest.raises(MetaTransportError) as caught:
            await call(recorder, "exchange_code", "AQsecretcode")
        text = f"{caught.value!s} {caught.value!r} {caught.value.__cause__!r} {caught.value.__context__!r}"
        assert "ConnectError" in str(caught.value)
        assert SECRET not in text and "AQsecretcode" not in text

    async def test_non_json_gateway_error_is_transient(self) -> None:
        recorder = Recorder(httpx.Response(502, text="<html>Bad Gateway</html>"), ok({"id": "1"}))
        assert (await call(recorder, "get_waba", "1", token=TOKEN)).id == "1"

    async def test_success_false_is_an_error(self) -> None:
        with pytest.raises(MetaError, match="success"):
            await call(Recorder(ok({"success": False})), "subscribe_app", "1", token=TOKEN)

    async def test_usage_headers_are_exposed(self) -> None:
        recorder = Recorder(
            ok({"id": "1"}, **{"X-App-Usage": '{"call_count": 93, "total_cputime": 1, "total_time": 4}'})
        )
        client, http = await client_for(recorder)
        async with http:
            assert client.last_usage is None
            await client.get_waba("1", token=TOKEN)
        assert client.last_usage is not None and client.last_usage.max_percent == 93

    async def test_echoed_token_is_blanked_in_the_error(self) -> None:
        answer = httpx.Response(
            400, json={"error": {"message": f"Malformed access token {TOKEN}", "code": 190}}
        )
        with pytest.raises(MetaError) as caught:
            await call(Recorder(answer), "get_waba", "1", token=TOKEN)
        assert TOKEN not in str(caught.value) and caught.value.is_invalid_token
