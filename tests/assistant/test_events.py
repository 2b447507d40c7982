"""The assistant's events (§15): Meta's webhooks become events, once each, read with a cursor."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.assistant.models import OutboundMessage
from qualifica.meta.sandbox import Sandbox
from qualifica.runtime import Runtime
from qualifica.webhooks.processing import process_webhooks
from tests.support.assistant import LEAD, Assistant, hello_world, send
from tests.support.webhooks import account_entry, envelope, post_signed

EVENTS = "/api/v1/whatsapp/events"


def change(assistant: Assistant, field: str, value: dict[str, Any]) -> bytes:
    metadata = {"display_phone_number": "551140001234", "phone_number_id": assistant.phone_number_id}
    entry = {
        "id": assistant.connection.waba_id,
        "time": int(time.time()),
        "changes": [
            {"field": field, "value": {"messaging_product": "whatsapp", "metadata": metadata, **value}}
        ],
    }
    return envelope(entry)


def inbound(assistant: Assistant, *messages: dict[str, Any]) -> bytes:
    contacts = [{"profile": {"name": "Maria Lead"}, "wa_id": LEAD, "user_id": "BR.1234567890"}]
    return change(assistant, "messages", {"contacts": contacts, "messages": list(messages)})


def text_message(wamid: str, body: str, **extra: Any) -> dict[str, Any]:
    return {
        "from": LEAD,
        "id": wamid,
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": body},
        **extra,
    }


async def deliver(client: httpx.AsyncClient, runtime: Runtime, body: bytes) -> None:
    assert (await post_signed(client, body)).status_code == 200
    while await process_webhooks(runtime):
        pass


async def events(client: httpx.AsyncClient, assistant: Assistant, **params: Any) -> dict[str, Any]:
    answer = await client.get(EVENTS, params=params, headers=assistant.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


class TestReceived:
    async def test_a_text_an_ad_referral_and_an_image_become_one_event_each_even_when_redelivered(
        self, client: httpx.AsyncClient, runtime: Runtime, assistant: Assistant
    ) -> None:
        referral = {
            "source_url": "https://fb.me/anuncio",
            "source_type": "ad",
            "source_id": "120200000000001",
            "headline": "Apartamento 2 quartos na Mooca",
            "body": "Fale com a gente",
            "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-ZABC",
        }
        body = inbound(
            assistant,
            text_message("wamid.A1", "Olá, vi o anúncio do apartamento", referral=referral),
            {
                "from": LEAD,
                "id": "wamid.A2",
                "timestamp": str(int(time.time())),
                "type": "image",
                "image": {
                    "id": "1480000000001",
                    "mime_type": "image/jpeg",
                    "sha256": "abc=",
                    "caption": "A fachada",
                },
            },
        )
        for _ in range(3):  # Meta retries for days
            await deliver(client, runtime, body)
        page = await events(client, assistant)
        received = [e for e in page["events"] if e["type"] == "message.received"]
        assert [e["data"]["wamid"] for e in received] == ["wamid.A1", "wamid.A2"]
        first, image = received[0]["data"], received[1]["data"]
        assert first["text"] == "Olá, vi o anúncio do apartamento" and first["type"] == "text"
        assert first["from"] == LEAD and first["wa_id"] == LEAD and first["user_id"] == "BR.1234567890"
        assert first["profile_name"] == "Maria Lead" and first["referral"] == referral
        assert first["media"] is None and first["context"] is None
        assert image["media"] == {
            "id": "1480000000001",
            "mime_type": "image/jpeg",
            "sha256": "abc=",
            "caption": "A fachada",
            "filename": None,
        }
        assert image["text"] == "A fachada"
        assert all(e["organization_id"] == str(assistant.organization_id) for e in received)

    async def test_a_lead_who_wrote_can_get_free_text_back(
        self, client: httpx.AsyncClient, runtime: Runtime, assistant: Assistant, sandbox: Sandbox
    ) -> None:
        reply: dict[str, object] = {"to": LEAD, "type": "text", "text": {"body": "Olá Maria!"}}
        refused = await send(client, assistant, reply)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "outside_service_window"
        assert sandbox.requests("messages") == []  # refused before Meta is asked
        sandbox.lead_wrote(assistant.phone_number_id, LEAD)  # Meta knows the lead wrote; we learn it from …
        await deliver(client, runtime, inbound(assistant, text_message("wamid.B1", "Oi")))  # … its webhook
        assert (await send(client, assistant, reply)).status_code == 200


class TestStatusesAndConnection:
    async def test_statuses_of_our_message_reach_its_history_and_the_events(
        self, client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime, assistant: Assistant
    ) -> None:
        sent = await send(client, assistant, hello_world())
        assert sent.status_code == 200, sent.text
        wamid, message_id = sent.json()["wamid"], sent.json()["id"]
        for status in ("sent", "delivered", "read", "delivered"):  # the last one late, out of order
            statuses = [
                {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": LEAD}
            ]
            await deliver(client, runtime, change(assistant, "messages", {"statuses": statuses}))
        page = await events(client, assistant)
        shown = [
            (e["data"]["status"], e["data"]["id"]) for e in page["events"] if e["type"] == "message.status"
        ]
        assert shown == [("sent", message_id), ("delivered", message_id), ("read", message_id)]
        view = (await client.get(f"/api/v1/whatsapp/messages/{message_id}", headers=assistant.headers)).json()
        assert view["status"] == "read"
        row = await db.scalar(select(OutboundMessage).where(OutboundMessage.wamid == wamid))
        assert row is not None

    async def test_the_connection_falling_is_an_event(
        self, client: httpx.AsyncClient, runtime: Runtime, assistant: Assistant
    ) -> None:
        await deliver(
            client, runtime, envelope(account_entry("PARTNER_APP_UNINSTALLED", assistant.connection.waba_id))
        )
        page = await events(client, assistant)
        changes = [e["data"] for e in page["events"] if e["type"] == "connection.status_changed"]
        assert changes[-1] == {"status": "error", "error_code": "app_uninstalled"}


class TestCoexistence:
    async def test_echoes_and_syncs_become_events(
        self, client: httpx.AsyncClient, runtime: Runtime, assistant: Assistant
    ) -> None:
        echo = {"from": "551140001234", "to": LEAD, "id": "wamid.E1", "timestamp": str(int(time.time())),
                "type": "text", "text": {"body": "Respondi pelo celular"}}  # fmt: skip
        person = {"full_name": "Maria Lead", "phone_number": LEAD}
        contacts = {"state_sync": [{"type": "contact", "action": "add", "contact": person}]}
        for body in (
            change(assistant, "smb_message_echoes", {"message_echoes": [echo]}),
            change(assistant, "smb_app_state_sync", contacts),
            change(
                assistant,
                "history",
                {"history": [{"metadata": {"phase": 0, "chunk_order": 1, "progress": 100}, "threads": []}]},
            ),
        ):
            await deliver(client, runtime, body)
            await deliver(client, runtime, body)
        types = [e["type"] for e in (await events(client, assistant))["events"]]
        assert [t for t in types if t != "connection.status_changed"] == [
            "message.echo",
            "contacts.synced",
            "history.synced",
        ]


class TestCursor:
    async def test_the_walk_is_oldest_first_each_event_once_and_resumes_from_the_cursor(
        self, client: httpx.AsyncClient, runtime: Runtime, assistant: Assistant
    ) -> None:
        for n in range(5):
            await deliver(client, runtime, inbound(assistant, text_message(f"wamid.C{n}", f"mensagem {n}")))
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page = await events(client, assistant, limit=2, **({"after": cursor} if cursor else {}))
            if not page["events"]:
                break
            seen += [e["data"]["text"] for e in page["events"] if e["type"] == "message.received"]
            cursor = page["next_cursor"]
        assert seen == [f"mensagem {n}" for n in range(5)]
        assert (await events(client, assistant, after=cursor))["events"] == []

    async def test_a_bad_cursor_or_limit_is_a_422(
        self, client: httpx.AsyncClient, assistant: Assistant
    ) -> None:
        for params in ({"after": "abc"}, {"limit": 0}, {"limit": 101}):
            answer = await client.get(EVENTS, params=params, headers=assistant.headers)
            assert answer.status_code == 422, params
            assert answer.json()["error"]["code"] in {"invalid_request"}

    async def test_another_organizations_events_are_never_seen(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        runtime: Runtime,
        assistant: Assistant,
        app: FastAPI,
    ) -> None:
        from tests.support.assistant import make_key
        from tests.support.factories import make_org

        await deliver(client, runtime, inbound(assistant, text_message("wamid.D1", "só nosso")))
        other = await make_org(db, "Imobiliária Outra")
        await db.commit()
        theirs = await make_key(db, organization_id=other.id)
        page = await client.get(EVENTS, headers={"Authorization": f"Bearer {theirs}"})
        assert page.status_code == 200 and page.json()["events"] == []
        assert json.dumps(page.json()).count("wamid.D1") == 0


class TestCard:
    async def test_the_card_shows_the_last_message_received(
        self, client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime, assistant: Assistant
    ) -> None:
        from qualifica.accounts.models import Organization, Role
        from tests.support.accounts import sign_in
        from tests.support.factories import make_user

        organization = await db.get(Organization, assistant.organization_id)
        assert organization is not None
        admin = await make_user(db, organization, role=Role.ADMIN)
        await db.commit()
        await sign_in(client, admin)
        assert "Nenhuma mensagem recebida ainda" in (await client.get("/settings/whatsapp")).text
        await deliver(client, runtime, inbound(assistant, text_message("wamid.L1", "Tem vaga de garagem?")))
        page = (await client.get("/settings/whatsapp")).text
        assert "Última mensagem recebida: “Tem vaga de garagem?” — de Maria Lead (5511987650001)" in page
