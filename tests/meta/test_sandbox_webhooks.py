"""The sandbox's webhooks: signed, retried on non-200, duplicated sometimes, sent on signup and revoke."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from qualifica.meta.client import GraphClient
from qualifica.meta.errors import MetaError
from qualifica.meta.sandbox import Sandbox
from qualifica.meta.signature import verify
from tests.support.live import serve_in_thread
from tests.support.meta import APP_SECRET


@dataclass
class Receiver:
    url: str = ""
    fail_first: int = 0
    bodies: list[bytes] = field(default_factory=list)
    signatures_ok: list[bool] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.bodies.append(body)
            self.signatures_ok.append(verify(body, request.headers.get("x-hub-signature-256"), APP_SECRET))
            failing = len(self.bodies) <= self.fail_first
        return PlainTextResponse("no", status_code=500) if failing else PlainTextResponse("ok")


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/webhook", receiver.endpoint, methods=["POST"])])
    with serve_in_thread(app, health_path=None) as url:
        receiver.url = url + "/webhook"
        yield receiver


@pytest.fixture
def receiver(receiver_server: Receiver, sandbox: Sandbox) -> Receiver:
    receiver_server.bodies.clear()
    receiver_server.signatures_ok.clear()
    receiver_server.fail_first = 0
    sandbox.webhooks.url = receiver_server.url
    sandbox.webhooks.deliveries.clear()
    return receiver_server


def changes(sandbox: Sandbox) -> list[dict[str, Any]]:
    assert sandbox.webhooks.wait_idle(15)
    return [
        change
        for d in sandbox.webhooks.deliveries
        if d.status == 200
        for item in d.payload()["entry"]
        for change in item["changes"]
    ]


class TestWebhooks:
    def test_finished_signup_sends_signed_partner_added(self, sandbox: Sandbox, receiver: Receiver) -> None:
        result = sandbox.complete_signup()
        (change,) = changes(sandbox)
        assert change["field"] == "account_update"
        assert change["value"] == {
            "event": "PARTNER_ADDED",
            "waba_info": {"waba_id": result.waba_id, "owner_business_id": result.data["business_id"]},
        }
        assert receiver.signatures_ok == [True]
        body = sandbox.webhooks.deliveries[0].payload()
        assert body["object"] == "whatsapp_business_account"
        assert isinstance(body["entry"][0]["time"], int)

    async def test_revoke_sends_partner_app_uninstalled_and_kills_the_token(
        self, sandbox: Sandbox, receiver: Receiver, graph: GraphClient
    ) -> None:
        result = sandbox.complete_signup()
        assert sandbox.webhooks.wait_idle(15)  # PARTNER_ADDED delivered before the revoke is sent
        token = (await graph.exchange_code(str(result.code))).access_token
        sandbox.revoke_token(token)
        events = [c["value"]["event"] for c in changes(sandbox)]
        assert events == ["PARTNER_ADDED", "PARTNER_APP_UNINSTALLED"]
        uninstalled = changes(sandbox)[-1]["value"]
        assert uninstalled["waba_info"]["partner_app_id"] == sandbox.credentials.app_id
        with pytest.raises(MetaError) as caught:
            await graph.get_waba(str(result.waba_id), token=token)
        assert caught.value.is_invalid_token

    def test_non_200_is_retried_until_acknowledged(self, sandbox: Sandbox, receiver: Receiver) -> None:
        receiver.fail_first = 2
        sandbox.notify.quality_update(next(iter(sandbox.world.phones)), "THROUGHPUT_UPGRADE")
        assert sandbox.webhooks.wait_idle(15)
        assert [d.status for d in sandbox.webhooks.deliveries] == [500, 500, 200]
        assert len(set(receiver.bodies)) == 1

    def test_duplicates_are_sent_sometimes(self, sandbox: Sandbox, receiver: Receiver) -> None:
        sandbox.webhooks.duplicate_rate = 1.0
        sandbox.notify.name_update(next(iter(sandbox.world.phones)), "REJECTED", "NAME_FORMAT_UNACCEPTABLE")
        assert sandbox.webhooks.wait_idle(15)
        assert len(receiver.bodies) == 2 and receiver.bodies[0] == receiver.bodies[1]
        assert all(receiver.signatures_ok)

    def test_quality_name_and_message_payloads(self, sandbox: Sandbox, receiver: Receiver) -> None:
        phone_id = next(iter(sandbox.world.phones))
        phone = sandbox.phone(phone_id)
        sandbox.notify.quality_update(phone_id)
        assert sandbox.webhooks.wait_idle(15)
        sandbox.notify.name_update(phone_id)
        assert sandbox.webhooks.wait_idle(15)
        wamid = sandbox.notify.message(phone_id, text="Oi")
        by_field = {c["field"]: c["value"] for c in changes(sandbox)}
        assert by_field["phone_number_quality_update"]["display_phone_number"] == phone.display_phone_number
        assert by_field["phone_number_name_update"]["decision"] == "APPROVED"
        message = by_field["messages"]
        assert message["metadata"] == {
            "display_phone_number": phone.display_phone_number,
            "phone_number_id": phone_id,
        }
        assert message["messages"][0]["id"] == wamid
        last = sandbox.webhooks.deliveries[-1].payload()["entry"][0]
        assert "time" not in last  # messages entries carry no time
