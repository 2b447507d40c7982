"""The sandbox's messaging (§15): Meta's answer to a send, the window, and the signed statuses webhooks
that follow, each status valid against Meta's ``Statuses`` schema."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from qualifica.meta.client import GraphClient
from qualifica.meta.errors import MetaError
from qualifica.meta.sandbox import Sandbox
from tests.meta.test_sandbox_webhooks import Receiver
from tests.support.live import serve_in_thread
from tests.support.meta import APP_ID, APP_SECRET
from tests.support.openapi import problems
from tests.support.sandbox import LiveSandbox

LEAD = "5511987650001"
HELLO = {"name": "hello_world", "language": {"policy": "deterministic", "code": "en_US"}}


@pytest.fixture(scope="module")
def statuses_server() -> Iterator[Receiver]:
    server = Receiver()
    app = Starlette(routes=[Route("/webhook", server.endpoint, methods=["POST"])])
    with serve_in_thread(app, health_path=None) as url:
        server.url = url + "/webhook"
        yield server


@pytest.fixture
def receiver(statuses_server: Receiver, sandbox: Sandbox) -> Receiver:
    sandbox.webhooks.wait_idle(15)
    statuses_server.bodies.clear()
    statuses_server.signatures_ok.clear()
    sandbox.webhooks.url = statuses_server.url
    return statuses_server


@pytest.fixture
async def graph(live_sandbox: LiveSandbox) -> Any:
    async with httpx.AsyncClient() as http:
        yield GraphClient(
            http, graph_url=live_sandbox.url, version="v26.0", app_id=APP_ID, app_secret=APP_SECRET
        )


async def connected(graph: GraphClient, sandbox: Sandbox) -> tuple[str, str]:
    result = sandbox.complete_signup("finish")
    assert result.code and result.phone_number_id
    token = (await graph.exchange_code(result.code)).access_token
    return result.phone_number_id, token


def statuses_of(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with receiver.lock:
            bodies = list(receiver.bodies)
        values = [
            change["value"]
            for body in bodies
            for entry in json.loads(body)["entry"]
            for change in entry["changes"]
            if "statuses" in change["value"]
        ]
        if len(values) >= count:
            return values
        time.sleep(0.02)
    raise AssertionError(f"{count} statuses webhooks expected")


class TestSend:
    async def test_an_accepted_message_is_followed_by_signed_sent_delivered_read(
        self, graph: GraphClient, sandbox: Sandbox, receiver: Receiver
    ) -> None:
        phone_id, token = await connected(graph, sandbox)
        sandbox.set_message_statuses(["sent", "delivered", "read"], delay=0.01)
        answer = await graph.send_message(
            phone_id,
            {"recipient_type": "individual", "to": LEAD, "type": "template", "template": HELLO},
            token=token,
        )
        assert answer.contacts[0].input == answer.contacts[0].wa_id == LEAD
        assert answer.messages[0].message_status == "accepted"

        values = statuses_of(receiver, 3)
        assert all(receiver.signatures_ok)
        # Meta's deliveries overlap and may arrive in any order (the service orders them by rank)
        assert sorted(v["statuses"][0]["status"] for v in values) == ["delivered", "read", "sent"]
        for value in values:
            (status,) = value["statuses"]
            assert status["id"] == answer.wamid and status["recipient_id"] == LEAD
            assert problems({"$ref": "#/components/schemas/Statuses"}, status) == []
            assert value["metadata"]["phone_number_id"] == phone_id and value["contacts"][0]["wa_id"] == LEAD
        assert sandbox.conversation(phone_id, LEAD).sent[0]["status"] == "read"

    async def test_an_undeliverable_number_is_accepted_then_failed_with_131026(
        self, graph: GraphClient, sandbox: Sandbox, receiver: Receiver
    ) -> None:
        phone_id, token = await connected(graph, sandbox)
        sandbox.set_message_statuses(["sent"], delay=0.01)
        body = {"recipient_type": "individual", "to": "5511900000000", "type": "template", "template": HELLO}
        await graph.send_message(phone_id, body, token=token)
        (value,) = statuses_of(receiver, 1)
        (status,) = value["statuses"]
        assert status["status"] == "failed" and status["errors"][0]["code"] == 131026
        assert "contacts" not in value  # omitted for failed since the BSUID rollout
        assert problems({"$ref": "#/components/schemas/Statuses"}, status) == []

    async def test_the_window_opens_when_the_lead_writes_and_closes_after_24_hours(
        self, graph: GraphClient, sandbox: Sandbox, live_sandbox: LiveSandbox
    ) -> None:
        phone_id, token = await connected(graph, sandbox)
        sandbox.set_message_statuses([])
        text = {"recipient_type": "individual", "to": LEAD, "type": "text", "text": {"body": "Olá!"}}
        with pytest.raises(MetaError) as outside:
            await graph.send_message(phone_id, text, token=token)
        assert outside.value.code == 131047
        async with httpx.AsyncClient(base_url=live_sandbox.url) as control:
            assert (await control.post(f"/_control/phones/{phone_id}/leads/{LEAD}/wrote")).status_code == 200
            sent = await graph.send_message(phone_id, text, token=token)
            listed = (await control.get(f"/_control/phones/{phone_id}/sent")).json()
        assert [(m["id"], m["type"], m["text"]) for m in listed[LEAD]] == [(sent.wamid, "text", "Olá!")]
        sandbox.advance(24 * 3600)
        with pytest.raises(MetaError):
            await graph.send_message(phone_id, text, token=token)

    async def test_an_inbound_message_opens_the_window(self, graph: GraphClient, sandbox: Sandbox) -> None:
        phone_id, token = await connected(graph, sandbox)
        sandbox.set_message_statuses([])
        sandbox.notify.message(phone_id, LEAD, "Oi, vi o anúncio")
        text = {"recipient_type": "individual", "to": LEAD, "type": "text", "text": {"body": "Olá!"}}
        assert (await graph.send_message(phone_id, text, token=token)).wamid.startswith("wamid.")

    async def test_a_reset_silences_the_statuses_still_on_their_way(
        self, graph: GraphClient, sandbox: Sandbox, receiver: Receiver
    ) -> None:
        phone_id, token = await connected(graph, sandbox)
        sandbox.set_message_statuses(["sent"], delay=0.3)
        body = {"recipient_type": "individual", "to": LEAD, "type": "template", "template": HELLO}
        await graph.send_message(phone_id, body, token=token)
        sandbox.reset()
        await asyncio.sleep(0.5)
        assert [body for body in receiver.bodies if b"statuses" in body] == []
