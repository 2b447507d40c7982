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
from qualifica.meta.webhook_subscription import COEXISTENCE_FIELDS, SUBSCRIBED_FIELDS
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
    sandbox.webhooks.wait_idle(15)  # an earlier test's deliveries must not land in this one's log
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


def fields_sent(sandbox: Sandbox) -> list[str]:
    return [change["field"] for change in changes(sandbox)]


class TestCoexistenceSyncs:
    async def test_contacts_then_history_each_once_with_their_webhooks(
        self, graph: GraphClient, sandbox: Sandbox, receiver: Receiver
    ) -> None:
        result = sandbox.complete_signup("coexistence")
        assert result.code is not None
        token = (await graph.exchange_code(result.code)).access_token
        phone_id = next(p.id for p in sandbox.world.phones.values() if p.is_on_biz_app)
        first = await graph.request_smb_app_data(phone_id, token=token, sync_type="smb_app_state_sync")
        second = await graph.request_smb_app_data(phone_id, token=token, sync_type="history")
        assert first.startswith("REQ-") and second.startswith("REQ-") and first != second
        sent = changes(sandbox)  # deliveries run in parallel: Meta promises no order either
        assert sorted(c["field"] for c in sent) == ["account_update", *["history"] * 3, "smb_app_state_sync"]
        (contacts,) = [c["value"] for c in sent if c["field"] == "smb_app_state_sync"]
        assert contacts["metadata"]["phone_number_id"] == phone_id
        assert contacts["state_sync"][0] == {
            "type": "contact",
            "action": "add",
            "contact": {"full_name": "Ana Souza", "first_name": "Ana", "phone_number": "5511987650001"},
            "metadata": {"timestamp": contacts["state_sync"][0]["metadata"]["timestamp"]},
        }
        chunks = sorted(
            (c["value"]["history"][0] for c in sent if c["field"] == "history"),
            key=lambda chunk: chunk["metadata"]["chunk_order"],
        )
        assert [(c["metadata"]["phase"], c["metadata"]["progress"]) for c in chunks] == [
            (0, 20),
            (1, 55),
            (2, 100),
        ]
        kinds = {m["type"] for c in chunks for t in c["threads"] for m in t["messages"]}
        assert kinds == {"text", "media_placeholder"}
        assert all(receiver.signatures_ok)
        for sync_type in ("smb_app_state_sync", "history"):
            with pytest.raises(MetaError) as caught:
                await graph.request_smb_app_data(phone_id, token=token, sync_type=sync_type)
            assert caught.value.code == 2593107 and not caught.value.transient

    async def test_a_new_onboarding_opens_new_syncs(
        self, graph: GraphClient, sandbox: Sandbox, receiver: Receiver
    ) -> None:
        phone_id = next(p.id for p in sandbox.world.phones.values() if p.is_on_biz_app)
        for _ in range(2):  # offboarded, then through Embedded Signup again
            result = sandbox.complete_signup("coexistence")
            assert result.code is not None
            token = (await graph.exchange_code(result.code)).access_token
            await graph.request_smb_app_data(phone_id, token=token, sync_type="smb_app_state_sync")

    async def test_after_24_hours_the_sync_is_refused(
        self, graph: GraphClient, sandbox: Sandbox, receiver: Receiver
    ) -> None:
        result = sandbox.complete_signup("coexistence")
        assert result.code is not None
        token = (await graph.exchange_code(result.code)).access_token
        phone_id = next(p.id for p in sandbox.world.phones.values() if p.is_on_biz_app)
        sandbox.advance(24 * 3600 + 1)
        with pytest.raises(MetaError) as caught:
            await graph.request_smb_app_data(phone_id, token=token, sync_type="smb_app_state_sync")
        assert caught.value.code == 2593108
        assert fields_sent(sandbox) == ["account_update"]

    async def test_declined_history_sharing_sends_error_2593109(
        self, graph: GraphClient, sandbox: Sandbox, receiver: Receiver
    ) -> None:
        sandbox.set_history_sharing(False)
        result = sandbox.complete_signup("coexistence")
        assert result.code is not None
        token = (await graph.exchange_code(result.code)).access_token
        phone_id = next(p.id for p in sandbox.world.phones.values() if p.is_on_biz_app)
        await graph.request_smb_app_data(phone_id, token=token, sync_type="history")
        (history,) = [c for c in changes(sandbox) if c["field"] == "history"]
        assert history["value"]["history"][0]["errors"][0]["code"] == 2593109

    async def test_a_number_not_on_the_business_app_has_no_sync(
        self, graph: GraphClient, sandbox: Sandbox, receiver: Receiver
    ) -> None:
        result = sandbox.complete_signup("finish_existing_number")
        assert result.code is not None and result.phone_number_id
        token = (await graph.exchange_code(result.code)).access_token
        with pytest.raises(MetaError) as caught:
            await graph.request_smb_app_data(result.phone_number_id, token=token, sync_type="history")
        assert caught.value.code == 100

    async def test_unsubscribed_fields_are_never_delivered(
        self, graph: GraphClient, sandbox: Sandbox, receiver: Receiver
    ) -> None:
        sandbox.webhooks.fields = ("account_update", "messages")
        try:
            result = sandbox.complete_signup("coexistence")
            assert result.code is not None
            token = (await graph.exchange_code(result.code)).access_token
            phone_id = next(p.id for p in sandbox.world.phones.values() if p.is_on_biz_app)
            await graph.request_smb_app_data(phone_id, token=token, sync_type="smb_app_state_sync")
            sandbox.notify.smb_message_echo(phone_id)
            assert fields_sent(sandbox) == ["account_update"]  # accepted, and lost (reference 2026 §6.4)
        finally:
            sandbox.webhooks.fields = SUBSCRIBED_FIELDS

    def test_echo_of_a_message_sent_from_the_phone(self, sandbox: Sandbox, receiver: Receiver) -> None:
        phone_id = next(p.id for p in sandbox.world.phones.values() if p.is_on_biz_app)
        sandbox.notify.smb_message_echo(phone_id, to="5511987650001", text="Te ligo já")
        (change,) = changes(sandbox)
        (echo,) = change["value"]["message_echoes"]
        assert change["field"] == "smb_message_echoes"
        assert (echo["from"], echo["to"], echo["text"]) == (
            "5511987654321",
            "5511987650001",
            {"body": "Te ligo já"},
        )
        assert echo["to_user_id"].startswith("BR.")

    def test_the_app_is_subscribed_to_the_coexistence_fields(self, sandbox: Sandbox) -> None:
        assert {"history", "smb_app_state_sync", "smb_message_echoes"} <= set(sandbox.webhooks.fields)
        assert set(COEXISTENCE_FIELDS) <= set(SUBSCRIBED_FIELDS)


class TestBusinessScopedUserIds:
    def test_inbound_message_carries_the_bsuid_beside_wa_id(
        self, sandbox: Sandbox, receiver: Receiver
    ) -> None:
        phone_id = next(iter(sandbox.world.phones))
        sandbox.notify.message(phone_id, "5511912345678", "Oi", user_id="BR.1000000000000001")
        (change,) = changes(sandbox)
        (contact,) = change["value"]["contacts"]
        (message,) = change["value"]["messages"]
        assert contact == {
            "profile": {"name": "Cliente Teste"},
            "wa_id": "5511912345678",
            "user_id": "BR.1000000000000001",
        }
        assert (message["from"], message["from_user_id"]) == ("5511912345678", "BR.1000000000000001")

    def test_a_username_user_has_no_wa_id(self, sandbox: Sandbox, receiver: Receiver) -> None:
        phone_id = next(iter(sandbox.world.phones))
        sandbox.notify.message(phone_id, "5511912345678", "Oi", username=True)
        (change,) = changes(sandbox)
        assert change["value"]["contacts"][0]["wa_id"] == "" and change["value"]["messages"][0]["from"] == ""
        assert change["value"]["messages"][0]["from_user_id"].startswith("BR.")

    def test_system_messages_for_a_changed_number_and_a_changed_user_id(
        self, sandbox: Sandbox, receiver: Receiver
    ) -> None:
        phone_id = next(iter(sandbox.world.phones))
        sandbox.notify.user_changed_number(phone_id, "5511912345678", "5511998887777", new_user_id="BR.2")
        sandbox.notify.user_changed_user_id(phone_id, "5511998887777", "BR.2", "BR.3")
        sent = changes(sandbox)
        systems = sorted((c["value"]["messages"][0] for c in sent), key=lambda m: m["system"]["type"])
        assert all("contacts" not in c["value"] for c in sent)  # system messages carry no contacts
        assert systems[0]["system"]["type"] == "user_changed_number"
        assert (systems[0]["system"]["wa_id"], systems[0]["system"]["user_id"]) == ("5511998887777", "BR.2")
        assert systems[1]["system"] == {
            "type": "user_changed_user_id",
            "body": "User Cliente Teste changed their user id",
            "user_id": "BR.3",
        }
        assert systems[1]["from_user_id"] == "BR.2"
