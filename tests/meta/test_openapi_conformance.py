"""Every Graph call the service makes, on the sandbox over a real socket, checked against Meta's OpenAPI
description (tests/fixtures/meta-openapi, v23.0): each request body our client sends and each answer the
sandbox gives, successes and errors alike.

The description is silent on OAuth (``oauth/access_token``), ``debug_token``, the app's own node and
subscriptions, and ``smb_app_data``: there the shapes of docs/meta.md decide (``REFERENCE_SHAPES`` in
tests/support/openapi.py), checked the same way.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from qualifica.meta.client import GraphClient
from qualifica.meta.endpoints import Endpoint
from qualifica.meta.errors import MetaError
from qualifica.meta.sandbox import Sandbox
from qualifica.meta.sandbox.graph_api import endpoint_of
from qualifica.meta.sandbox.graph_objects import GraphObjects
from qualifica.meta.sandbox.world import TokenShape
from tests.support.meta import APP_ID, APP_SECRET
from tests.support.openapi import (
    REFERENCE_SHAPES,
    SPEC_CONFLICTS,
    TEMPLATES,
    USAGE_SHAPE,
    Exchange,
    ExchangeLog,
    problems,
    request_schema,
    response_schema,
)
from tests.support.sandbox import LiveSandbox

VERSION = "v26.0"
# Where Meta would post; nothing listens (the walk needs the app's subscription to list a URL).
UNUSED_WEBHOOK_URL = "http://127.0.0.1:9/webhook"


class Walk:
    """A GraphClient whose every exchange is recorded and every method call counted."""

    def __init__(self, graph: GraphClient, log: ExchangeLog) -> None:
        self.graph = graph
        self.log = log
        self.called: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.called.add(name)
        return getattr(self.graph, name)


@pytest.fixture
async def walk(live_sandbox: LiveSandbox) -> AsyncIterator[Walk]:
    log = ExchangeLog()
    async with httpx.AsyncClient(event_hooks=log.hooks()) as http:
        graph = GraphClient(
            http, graph_url=live_sandbox.url, version=VERSION, app_id=APP_ID, app_secret=APP_SECRET
        )
        yield Walk(graph, log)


@pytest.fixture
def subscribed_app(sandbox: Sandbox) -> Iterator[None]:
    sandbox.webhooks.max_attempts, attempts = 1, sandbox.webhooks.max_attempts
    sandbox.webhooks.url = UNUSED_WEBHOOK_URL
    yield
    sandbox.webhooks.url = None
    sandbox.webhooks.max_attempts = attempts


def endpoint(sandbox: Sandbox, exchange: Exchange) -> str:
    return endpoint_of(sandbox, exchange.path.removeprefix(f"/{VERSION}/"), exchange.method)


def violations(sandbox: Sandbox, exchanges: list[Exchange]) -> list[str]:
    found = []
    for exchange in exchanges:
        name = endpoint(sandbox, exchange)
        where = f"{exchange.method} {name} {exchange.status}"
        sent, required = request_schema(name, exchange.method)
        if sent is not None and (required or exchange.request_body is not None):
            found += [f"{where} request {p}" for p in problems(sent, exchange.request_body)]
        elif sent is None and exchange.request_body is not None:
            found.append(f"{where} request: a body where Meta describes none")
        answer = response_schema(name, exchange.method, exchange.status)
        if answer is None:
            found.append(f"{where}: no answer of this status in Meta's description")
        else:
            found += [
                f"{where} answer {p}"
                for p in problems(answer, exchange.response_body)
                if not any(name == e and p.split(":")[0].endswith(f"/{f}") for e, f in SPEC_CONFLICTS)
            ]
    return found


async def signup(walk: Walk, sandbox: Sandbox, path: str) -> tuple[str, str | None, str]:
    result = sandbox.complete_signup(path)
    assert result.code is not None and result.waba_id is not None
    token = (await walk.exchange_code(result.code)).access_token
    return result.waba_id, result.phone_number_id, token


async def every_call(walk: Walk, sandbox: Sandbox, shape: TokenShape) -> None:
    """Each GraphClient method, on the paths the service takes, with Meta's usual refusals."""
    sandbox.set_token_shape(shape)
    await walk.app_check()
    # ES v4, unverified number: look-ups, subscription, verification (a wrong code first), registration.
    waba_id, phone_id, token = await signup(walk, sandbox, "finish_unverified_number")
    assert phone_id is not None
    info = await walk.debug_token(token)
    assert info.waba_hints == {waba_id} and info.has_legacy_whatsapp_scopes is (shape == "legacy")
    await walk.get_waba(waba_id, token=token)
    await walk.list_phone_numbers(waba_id, token=token)
    await walk.get_phone_number(phone_id, token=token)
    await walk.subscribe_app(waba_id, token=token)
    await walk.subscribe_app(
        waba_id, token=token, override_callback_uri=UNUSED_WEBHOOK_URL, verify_token="verify-me-123"
    )
    await walk.subscribed_apps(waba_id, token=token)
    await walk.request_code(phone_id, token=token, method="SMS")
    code = str(sandbox.verification_code(phone_id))
    with pytest.raises(MetaError):
        await walk.verify_code(phone_id, token=token, code=f"{(int(code) + 1) % 10**6:06d}")
    await walk.verify_code(phone_id, token=token, code=code)
    await walk.register_phone(phone_id, "482913", token=token)
    await send_messages(walk, sandbox, phone_id, token)
    with pytest.raises(MetaError):
        await walk.register_phone(phone_id, "111111", token=token)  # 133005: the PIN is set now
    await walk.deregister_phone(phone_id, token=token)
    await walk.unsubscribe_app(waba_id, token=token)
    # ES v4, no number: add one (an unavailable number first), then verify it by voice.
    waba_id, _, token = await signup(walk, sandbox, "finish_no_number")
    with pytest.raises(MetaError):
        await walk.add_phone_number(
            waba_id, token=token, cc="55", phone_number="11977770000", verified_name="Lima & Filhos"
        )
    added = await walk.add_phone_number(
        waba_id, token=token, cc="55", phone_number="11987650002", verified_name="Lima & Filhos"
    )
    await walk.request_code(added, token=token, method="VOICE")
    await walk.verify_code(added, token=token, code=str(sandbox.verification_code(added)))
    # Coexistence: contacts then history, and the refusal of a second request.
    waba_id, _, token = await signup(walk, sandbox, "coexistence")
    biz_app = next(p.id for p in sandbox.world.phones.values() if p.is_on_biz_app)
    await walk.request_smb_app_data(biz_app, token=token, sync_type="smb_app_state_sync")
    await walk.request_smb_app_data(biz_app, token=token, sync_type="history")
    with pytest.raises(MetaError):
        await walk.request_smb_app_data(biz_app, token=token, sync_type="history")
    # A rate limit, with its usage header.
    sandbox.fail_next("waba", code=80007, regain_minutes=3)
    with pytest.raises(MetaError) as caught:
        await walk.get_waba(waba_id, token=token)
    assert caught.value.retry_after == 180


LEAD = "5511987650001"
HELLO = {"name": "hello_world", "language": {"policy": "deterministic", "code": "en_US"}}


async def send_messages(walk: Walk, sandbox: Sandbox, phone_id: str, token: str) -> None:
    """§15's sends: a template, a reply inside the window, and Meta's refusals (131047, 132001, 132000)."""
    individual = {"recipient_type": "individual", "to": LEAD}
    await walk.send_message(phone_id, {**individual, "type": "template", "template": HELLO}, token=token)
    text = {**individual, "type": "text", "text": {"preview_url": False, "body": "Olá! Podemos falar?"}}
    with pytest.raises(MetaError):  # 131047: the lead has not written in 24 h
        await walk.send_message(phone_id, text, token=token)
    sandbox.lead_wrote(phone_id, LEAD)
    await walk.send_message(phone_id, {**text, "context": {"message_id": "wamid.INBOUND"}}, token=token)
    for template in (
        {"name": "nao_existe", "language": {"policy": "deterministic", "code": "pt_BR"}},
        {"name": "novo_imovel", "language": {"policy": "deterministic", "code": "pt_BR"}},  # no parameter
    ):
        with pytest.raises(MetaError):
            await walk.send_message(
                phone_id, {**individual, "type": "template", "template": template}, token=token
            )
    with sandbox.lock:  # a photo the lead sent: its URL (§15's media)
        photo = sandbox.world.add_media(phone_id, b"\xff\xd8\xff fachada", "image/jpeg")
    await walk.media_url(photo.id, token=token)
    sandbox.fail_next("messages", code=130429)
    with pytest.raises(MetaError) as caught:
        await walk.send_message(phone_id, {**individual, "type": "template", "template": HELLO}, token=token)
    assert caught.value.is_rate_limit


class TestConformance:
    @pytest.mark.parametrize("shape", ["june_2026", "legacy"])
    async def test_every_request_and_answer_matches_meta_s_description(
        self, walk: Walk, sandbox: Sandbox, subscribed_app: None, shape: TokenShape
    ) -> None:
        await every_call(walk, sandbox, shape)
        exchanges = walk.log.exchanges
        assert violations(sandbox, exchanges) == []
        statuses = {(endpoint(sandbox, e), e.status) for e in exchanges}
        assert {("verify_code", 422), ("add_phone_number", 409), ("register", 400), ("waba", 400)} <= statuses
        assert {("messages", 200), ("messages", 400), ("messages", 404)} <= statuses

    async def test_the_walk_covers_every_graph_client_method_and_endpoint(
        self, walk: Walk, sandbox: Sandbox, subscribed_app: None
    ) -> None:
        await every_call(walk, sandbox, "june_2026")
        public = {
            name
            for name, member in inspect.getmembers(GraphClient, inspect.iscoroutinefunction)
            if not name.startswith("_")
        }
        assert public == walk.called
        assert {endpoint(sandbox, e) for e in walk.log.exchanges} == set(Endpoint)
        assert set(Endpoint) == set(TEMPLATES) | set(REFERENCE_SHAPES)

    async def test_the_sandbox_answers_rate_limits_with_the_usage_header(
        self, live_sandbox: LiveSandbox, sandbox: Sandbox
    ) -> None:
        waba_id = next(iter(sandbox.world.wabas))
        sandbox.fail_next("waba", code=80007, regain_minutes=2)
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{live_sandbox.url}/{VERSION}/{waba_id}")
        raw = answer.headers["x-business-use-case-usage"]
        assert problems({"$ref": "#/components/headers/x-business-use-case-usage/schema"}, raw) == []
        usage = json.loads(raw)
        assert problems(USAGE_SHAPE, usage) == []
        assert usage[waba_id][0]["estimated_time_to_regain_access"] == 2


class TestTheCheckCatches:
    async def test_a_wrong_field_type_in_an_answer(
        self, walk: Walk, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The scratch run kept as a test: the sandbox answers timezone_id as a number, Meta types a string.
        original = GraphObjects.waba

        def wrong(objects: GraphObjects, waba_id: str, params: dict[str, str]) -> dict[str, Any]:
            return {**original(objects, waba_id, params), "timezone_id": 25}

        monkeypatch.setattr(GraphObjects, "waba", wrong)
        waba_id, _, token = await signup(walk, sandbox, "finish_existing_number")
        with pytest.raises(ValidationError):
            await walk.get_waba(waba_id, token=token)
        (found,) = violations(sandbox, walk.log.exchanges[-1:])
        assert found == 'GET waba 200 answer /timezone_id: 25 is not of type "string"'

    async def test_a_wrong_type_the_client_would_swallow(
        self, walk: Walk, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # debug_token's expires_at as a string: pydantic coerces "0" to 0, the reference's shape refuses it.
        original = GraphObjects.debug_token

        def wrong(objects: GraphObjects, params: dict[str, str]) -> dict[str, Any]:
            answer = original(objects, params)
            return {"data": {**answer["data"], "expires_at": str(answer["data"].get("expires_at", 0))}}

        monkeypatch.setattr(GraphObjects, "debug_token", wrong)
        _, _, token = await signup(walk, sandbox, "finish")
        assert (await walk.debug_token(token)).never_expires
        (found,) = violations(sandbox, walk.log.exchanges[-1:])
        assert found == 'GET debug_token 200 answer /data/expires_at: "0" is not of type "integer"'

    async def test_a_wrong_request_body(self, walk: Walk, sandbox: Sandbox) -> None:
        _, phone_id, token = await signup(walk, sandbox, "finish_unverified_number")
        assert phone_id is not None
        with pytest.raises(MetaError):
            await walk.request_code(phone_id, token=token, method="SMS", language="pt-BR")
        (found,) = violations(sandbox, walk.log.exchanges[-1:])
        assert found.startswith("POST request_code 400 request /language:")

    async def test_a_text_message_without_its_recipient(self, walk: Walk, sandbox: Sandbox) -> None:
        _, phone_id, token = await signup(walk, sandbox, "finish")
        assert phone_id is not None
        with pytest.raises(MetaError):
            await walk.send_message(phone_id, {"type": "text", "text": {"body": "Olá"}}, token=token)
        found = violations(sandbox, walk.log.exchanges[-1:])
        assert any(p.startswith('POST messages 400 request /: "recipient_type" is a required') for p in found)

    def test_a_silent_endpoint_is_held_to_the_reference(self) -> None:
        schema = REFERENCE_SHAPES["smb_app_data"]["response"]
        assert problems(schema, {"messaging_product": "whatsapp", "request_id": "REQ-1"}) == []
        assert problems(schema, {"messaging_product": "whatsapp", "request_id": 42}) != []
        token = REFERENCE_SHAPES["debug_token"]["response"]
        granted = {
            "data": {"is_valid": True, "scopes": [], "granular_scopes": [{"scope": "x", "target_ids": [1]}]}
        }
        assert problems(token, granted) != []
