"""``POST /api/v1/whatsapp/messages`` through the sandbox over a real socket (ARCHITECTURE §15)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.assistant.models import MessageStatus, OutboundMessage
from qualifica.assistant.outbound import record_status
from qualifica.assistant.queue import send_queued
from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.runtime import Runtime
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection
from tests.support.apps import app_with
from tests.support.assistant import LEAD, MESSAGES, Assistant, hello_world, lead_wrote, send, text

LATER = timedelta(minutes=10)  # a worker round far enough ahead for every backoff of these tests


def spaced(runtime: Runtime) -> Runtime:
    """The worker with a number held to 10 messages/s: the messages of a round leave 100 ms apart, so the
    order they reach the sandbox is their dispatch order even on a busy machine."""
    return replace(runtime, settings=runtime.settings.model_copy(update={"assistant_send_rate": 10.0}))


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def meta_bodies(sandbox: Sandbox) -> list[object]:
    return [request.body for request in sandbox.requests("messages")]


async def message_of(client: httpx.AsyncClient, assistant: Assistant, message_id: str) -> dict[str, object]:
    answer = await client.get(f"{MESSAGES}/{message_id}", headers=assistant.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


class TestInsideTheWindow:
    async def test_text_is_sent_with_meta_s_wamid_and_meta_s_exact_body(
        self, client: httpx.AsyncClient, db: AsyncSession, sandbox: Sandbox, assistant: Assistant
    ) -> None:
        await lead_wrote(db, sandbox, assistant)
        sent_before = sample("qualifica_assistant_messages_total", path="inline", outcome="sent")
        answer = await send(client, assistant, text(reply_to="wamid.INBOUND_1"))
        assert sample("qualifica_assistant_messages_total", path="inline", outcome="sent") == sent_before + 1

        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "sent" and body["wamid"].startswith("wamid.")
        (request,) = sandbox.requests("messages")
        assert request.path == f"{assistant.phone_number_id}/messages"
        assert request.headers["authorization"].startswith("Bearer EAA")
        assert request.body == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": LEAD,
            "type": "text",
            "text": {"preview_url": False, "body": "Sim, o apartamento aceita financiamento."},
            "context": {"message_id": "wamid.INBOUND_1"},
        }
        (sent,) = sandbox.conversation(assistant.phone_number_id, LEAD).sent
        assert sent["id"] == body["wamid"] and sent["context"] == "wamid.INBOUND_1"
        view = await message_of(client, assistant, body["id"])
        assert view["status"] == "sent" and view["wamid"] == body["wamid"] and view["to"] == LEAD
        assert [item["status"] for item in view["history"]] == ["sent"]  # type: ignore[attr-defined]
        assert view["error"] is None

    async def test_statuses_from_meta_reach_the_history(
        self, client: httpx.AsyncClient, db: AsyncSession, sandbox: Sandbox, assistant: Assistant
    ) -> None:
        await lead_wrote(db, sandbox, assistant)
        body = (await send(client, assistant, text())).json()
        now = utcnow()
        for status, seconds in (("sent", 1), ("read", 3), ("delivered", 2)):
            await record_status(
                db, organization_id=assistant.organization_id, wamid=body["wamid"], status=status,
                at=now + timedelta(seconds=seconds), error=None,
            )  # fmt: skip
        await db.commit()
        view = await message_of(client, assistant, body["id"])
        assert view["status"] == "read"
        assert [item["status"] for item in view["history"]] == ["sent", "delivered", "read"]  # type: ignore[attr-defined]


class TestTheServiceWindow:
    async def test_text_to_a_lead_who_never_wrote_is_refused_without_calling_meta(
        self, client: httpx.AsyncClient, sandbox: Sandbox, assistant: Assistant
    ) -> None:
        answer = await send(client, assistant, text())
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "outside_service_window"
        assert "24 horas" in answer.json()["error"]["message"]
        assert sandbox.requests("messages") == []

    async def test_text_after_24_hours_is_refused_without_calling_meta(
        self, client: httpx.AsyncClient, db: AsyncSession, sandbox: Sandbox, assistant: Assistant
    ) -> None:
        from qualifica.assistant.window import note_inbound

        await note_inbound(
            db, organization_id=assistant.organization_id, phone_number_id=assistant.phone_number_id,
            wa_id=LEAD, at=utcnow() - timedelta(hours=24, minutes=1),
        )  # fmt: skip
        await db.commit()
        answer = await send(client, assistant, text())
        assert answer.json()["error"]["code"] == "outside_service_window"
        assert sandbox.requests("messages") == []

    async def test_a_template_goes_out_of_the_window(
        self, client: httpx.AsyncClient, sandbox: Sandbox, assistant: Assistant
    ) -> None:
        answer = await send(client, assistant, hello_world())
        assert answer.status_code == 200, answer.text
        (request,) = sandbox.requests("messages")
        assert request.body == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": LEAD,
            "type": "template",
            "template": {"name": "hello_world", "language": {"policy": "deterministic", "code": "en_US"}},
        }

    async def test_meta_s_131047_is_the_authority_when_our_record_disagrees(
        self, client: httpx.AsyncClient, db: AsyncSession, sandbox: Sandbox, assistant: Assistant
    ) -> None:
        await lead_wrote(db, sandbox, assistant)
        sandbox.fail_next("messages", code=131047, details="more than 24 hours have passed")
        answer = await send(client, assistant, text())
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "outside_service_window"
        stored = await db.scalar(select(OutboundMessage))
        assert stored is not None and stored.status is MessageStatus.FAILED
        assert stored.error_code == "outside_service_window" and stored.body is None


class TestIdempotency:
    async def test_the_same_key_and_body_twice_sends_once_and_answers_the_same(
        self, client: httpx.AsyncClient, db: AsyncSession, sandbox: Sandbox, assistant: Assistant
    ) -> None:
        await lead_wrote(db, sandbox, assistant)
        first = await send(client, assistant, text(), key="lead-42-reply-1")
        again = await send(client, assistant, text(), key="lead-42-reply-1")
        assert first.status_code == again.status_code == 200
        assert first.json() == again.json()
        assert len(sandbox.requests("messages")) == 1

    async def test_the_same_key_with_another_body_is_refused(
        self, client: httpx.AsyncClient, db: AsyncSession, sandbox: Sandbox, assistant: Assistant
    ) -> None:
        await lead_wrote(db, sandbox, assistant)
        assert (await send(client, assistant, text(), key="k-1")).status_code == 200
        other = await send(client, assistant, text("Outra resposta"), key="k-1")
        assert other.status_code == 422
        assert other.json()["error"]["code"] == "idempotency_key_reused"
        assert len(sandbox.requests("messages")) == 1

    async def test_a_refusal_is_replayed_too(
        self, client: httpx.AsyncClient, db: AsyncSession, sandbox: Sandbox, assistant: Assistant
    ) -> None:
        await lead_wrote(db, sandbox, assistant)
        sandbox.fail_next("messages", code=131026)
        first = await send(client, assistant, text(), key="k-2")
        again = await send(client, assistant, text(), key="k-2")
        assert first.status_code == again.status_code == 422
        assert first.json() == again.json()
        assert len(sandbox.requests("messages")) == 1


class TestMetaSlowOrUnavailable:
    async def test_a_rate_limit_queues_and_the_worker_sends_in_order(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        sandbox: Sandbox,
        assistant: Assistant,
        runtime: Runtime,
    ) -> None:
        await lead_wrote(db, sandbox, assistant)
        sandbox.fail_next("messages", code=130429)
        first = await send(client, assistant, text("primeira"))
        second = await send(client, assistant, text("segunda"))
        third = await send(client, assistant, hello_world())
        assert [a.status_code for a in (first, second, third)] == [202, 202, 202]
        assert {a.json()["status"] for a in (first, second, third)} == {"queued"}
        assert len(sandbox.requests("messages")) == 1  # the later ones wait behind the first

        assert await send_queued(runtime) == 0  # the first waits out its backoff, and so the rest
        while await send_queued(spaced(runtime), now=utcnow() + LATER):
            pass

        sent = [request.body for request in sandbox.requests("messages")][1:]
        assert [b.get("text", {}).get("body") or b["type"] for b in sent] == [
            "primeira",
            "segunda",
            "template",
        ]
        for answer in (first, second, third):
            view = await message_of(client, assistant, answer.json()["id"])
            assert view["status"] == "sent"
            assert [item["status"] for item in view["history"]][:2] == ["queued", "sent"]  # type: ignore[attr-defined]

    async def test_a_5xx_queues_and_the_worker_retries_until_it_is_sent(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        sandbox: Sandbox,
        assistant: Assistant,
        runtime: Runtime,
    ) -> None:
        await lead_wrote(db, sandbox, assistant)
        sandbox.fail_next("messages", times=3, code=131000, http_status=500)
        answer = await send(client, assistant, text())
        assert answer.status_code == 202
        for _ in range(5):
            await send_queued(runtime, now=utcnow() + LATER)
        view = await message_of(client, assistant, answer.json()["id"])
        assert view["status"] == "sent" and view["wamid"]
        assert len(sandbox.requests("messages")) == 4
        stored = await db.get_one(OutboundMessage, uuid.UUID(answer.json()["id"]), populate_existing=True)
        assert stored.attempts == 4 and stored.body is None  # the request's try and the worker's three

    async def test_meta_too_slow_answers_202_and_the_worker_sends_it(
        self, db: AsyncSession, sandbox: Sandbox, assistant: Assistant, app: FastAPI
    ) -> None:
        """The documented duplicate window: Meta took the first try after we stopped waiting, so the worker's
        try reaches it too (Meta has no idempotency key)."""
        await lead_wrote(db, sandbox, assistant)
        sandbox.set_latency("messages", 0.6)
        async with app_with(app.state.settings, assistant_send_timeout_seconds=0.2) as slow:
            transport = httpx.ASGITransport(app=slow)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answer = await send(client, assistant, text())
                assert answer.status_code == 202 and answer.json()["status"] == "queued"
                sandbox.set_latency("messages", None)
                while await send_queued(slow.state.runtime, now=utcnow() + LATER):
                    pass
                view = await message_of(client, assistant, answer.json()["id"])
        assert view["status"] == "sent"
        assert [item["status"] for item in view["history"]] == ["queued", "sent"]  # type: ignore[attr-defined]

    async def test_a_message_meta_never_takes_fails_with_its_reason(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        sandbox: Sandbox,
        assistant: Assistant,
        runtime: Runtime,
    ) -> None:
        from qualifica.assistant.queue import RETRY

        await lead_wrote(db, sandbox, assistant)
        sandbox.fail_next("messages", times=RETRY.max_attempts + 1, code=2, http_status=503)
        answer = await send(client, assistant, text())
        for _ in range(RETRY.max_attempts + 2):
            await send_queued(runtime, now=utcnow() + timedelta(hours=2))
        view = await message_of(client, assistant, answer.json()["id"])
        assert view["status"] == "failed"
        assert view["error"] == {
            "code": "meta_unavailable",
            "message": "A Meta ficou indisponível por tempo demais e a mensagem não foi enviada. "
            "Envie de novo mais tarde.",
        }


class TestRefusals:
    async def test_an_undeliverable_number_fails_with_the_portuguese_error(
        self, client: httpx.AsyncClient, db: AsyncSession, sandbox: Sandbox, assistant: Assistant
    ) -> None:
        sandbox.fail_next("messages", code=131026)
        answer = await send(client, assistant, hello_world())
        assert answer.status_code == 422
        error = answer.json()["error"]
        assert error["code"] == "invalid_recipient" and "Confira o número" in error["message"]
        stored = await db.scalar(select(OutboundMessage))
        assert stored is not None
        view = await message_of(client, assistant, str(stored.id))
        assert view["status"] == "failed" and view["error"]["code"] == "invalid_recipient"  # type: ignore[index]
        assert [item["status"] for item in view["history"]] == ["failed"]  # type: ignore[attr-defined]

    async def test_a_template_meta_does_not_know_is_an_invalid_request(
        self, client: httpx.AsyncClient, assistant: Assistant
    ) -> None:
        body: dict[str, object] = {
            "to": LEAD,
            "type": "template",
            "template": {"name": "nao_existe", "language": {"code": "pt_BR"}},
        }
        answer = await send(client, assistant, body)
        assert answer.status_code == 422
        error = answer.json()["error"]
        assert error["code"] == "invalid_request" and error["meta_code"] == 132001
        assert "modelo" in error["message"]

    async def test_a_disconnected_organization_is_not_connected(
        self, client: httpx.AsyncClient, db: AsyncSession, sandbox: Sandbox, assistant: Assistant
    ) -> None:
        await db.execute(
            update(WhatsAppConnection)
            .where(WhatsAppConnection.id == assistant.connection.id)
            .values(status=ConnectionStatus.DISCONNECTED, access_token=None)
        )
        await db.commit()
        answer = await send(client, assistant, hello_world())
        assert answer.status_code == 409 and answer.json()["error"]["code"] == "not_connected"
        assert sandbox.requests("messages") == []

    async def test_malformed_sends_are_invalid_requests(
        self, client: httpx.AsyncClient, assistant: Assistant
    ) -> None:
        bodies: list[dict[str, object]] = [
            {"to": LEAD, "type": "text"},
            {
                "to": "abc",
                "type": "template",
                "template": {"name": "hello_world", "language": {"code": "en_US"}},
            },
            {"to": LEAD, "type": "image", "image": {"id": "1"}},
            {**text(), "template": {"name": "hello_world", "language": {"code": "en_US"}}},
        ]
        for body in bodies:
            answer = await send(client, assistant, body)
            assert answer.status_code == 422, body
            assert answer.json()["error"]["code"] == "invalid_request"

    async def test_a_full_queue_answers_429_with_retry_after(
        self, db: AsyncSession, sandbox: Sandbox, assistant: Assistant, app: FastAPI
    ) -> None:
        await lead_wrote(db, sandbox, assistant)
        sandbox.fail_next("messages", code=130429)
        async with app_with(app.state.settings, assistant_queue_limit=2) as limited:
            transport = httpx.ASGITransport(app=limited)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                answers = [await send(client, assistant, text(f"m{n}")) for n in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]
        assert answers[2].json()["error"]["code"] == "rate_limited"
        assert int(answers[2].headers["retry-after"]) >= 1


class TestThroughput:
    async def test_a_number_s_slots_are_handed_out_one_interval_apart_and_never_too_far(
        self, runtime: Runtime
    ) -> None:
        from qualifica.assistant.throughput import claim_slot

        waits = [await claim_slot(runtime.sessionmaker, "900", rate=10, max_wait=0.25) for _ in range(4)]
        assert waits[0] == pytest.approx(0, abs=0.05)
        assert waits[1] == pytest.approx(0.1, abs=0.05) and waits[2] == pytest.approx(0.2, abs=0.05)
        assert waits[3] is None  # 0.3 s away: beyond what the caller waits, and nothing was taken
        again = await claim_slot(runtime.sessionmaker, "900", rate=10, max_wait=1, count=5)
        assert again == pytest.approx(0.3, abs=0.05)
        assert await claim_slot(runtime.sessionmaker, "901", rate=10, max_wait=0) == pytest.approx(
            0, abs=0.05
        )

    async def test_a_backlog_drains_in_order_a_batch_per_round(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        sandbox: Sandbox,
        assistant: Assistant,
        runtime: Runtime,
    ) -> None:
        await lead_wrote(db, sandbox, assistant)
        sandbox.fail_next("messages", code=130429)
        answers = [await send(client, assistant, text(f"mensagem {n}")) for n in range(12)]
        assert {a.status_code for a in answers} == {202}
        rounds = 0
        while await send_queued(spaced(runtime), now=utcnow() + LATER):
            rounds += 1
        assert rounds == 2  # the retried first one alone, then the eleven behind it together
        bodies = [request.body["text"]["body"] for request in sandbox.requests("messages")]
        assert bodies == ["mensagem 0", *(f"mensagem {n}" for n in range(12))]
        stored = (await db.scalars(select(OutboundMessage).execution_options(populate_existing=True))).all()
        assert {m.status for m in stored} == {MessageStatus.SENT}
