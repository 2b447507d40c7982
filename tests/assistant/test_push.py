"""The push to the assistant (§15): every event POSTed to a real receiver over a socket, signed per Standard
Webhooks (checked with the ``standardwebhooks`` library), in order per organization, once acknowledged —
through a receiver that fails for a while."""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qualifica.assistant.push import push_events
from qualifica.config import Settings
from qualifica.meta.sandbox import Sandbox
from qualifica.runtime import Runtime
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp.events import EventCounter
from tests.assistant.test_events import inbound, text_message
from tests.support.apps import app_with
from tests.support.assistant import Assistant, connected_assistant
from tests.support.live import serve_in_thread
from tests.support.logs import production_logs
from tests.support.webhooks import post_signed

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class Receiver:
    """The assistant's endpoint: verifies each delivery, fails the first ``failures`` ones."""

    failures: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    refused: int = 0

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        event = Webhook(SECRET).verify(body, dict(request.headers))  # raises on a bad signature
        if self.failures:
            self.failures -= 1
            self.refused += 1
            return Response(status_code=503)
        self.accepted.append(event)
        self.ids.append(request.headers["webhook-id"])
        return Response(status_code=204)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    found = Receiver()
    app = Starlette(routes=[Route("/eventos", found.endpoint, methods=["POST"])])
    with serve_in_thread(app, health_path=None) as url:
        yield found, f"{url}/eventos"


@pytest.fixture
async def pushing(settings: Settings, receiver: tuple[Receiver, str]) -> Any:
    async with app_with(settings, assistant_webhook_url=receiver[1], assistant_webhook_secret=SECRET) as app:
        yield app


async def deliver_all(runtime: Runtime) -> int:
    total = 0
    while pushed := await push_events(runtime):
        total += pushed
    return total


async def test_events_reach_the_receiver_signed_in_order_once_each_through_an_outage(
    pushing: FastAPI, receiver: tuple[Receiver, str], sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    found, _ = receiver
    runtime: Runtime = pushing.state.runtime
    async with pushing.state.sessionmaker() as db:
        assistant = await connected_assistant(db, pushing, sandbox)
    transport = httpx.ASGITransport(app=pushing)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for n in range(4):
            await post_signed(client, inbound(assistant, text_message(f"wamid.P{n}", f"mensagem {n}")))
    while await process_webhooks(runtime):
        pass

    found.failures = 2  # the assistant is down for a while
    with production_logs(caplog.handler), caplog.at_level(logging.DEBUG):
        assert await push_events(runtime) == 0
        async with runtime.sessionmaker() as db, db.begin():
            counter = await db.get(EventCounter, assistant.organization_id)
            assert counter is not None and counter.push_attempts == 1 and counter.push_error == "HTTP 503"
            assert await push_events(runtime) == 0  # waiting its backoff: nothing is tried
            await db.execute(update(EventCounter).values(push_next_at=None))
        assert await push_events(runtime) == 0  # the second refusal
        async with runtime.sessionmaker() as db, db.begin():
            await db.execute(update(EventCounter).values(push_next_at=None))
        assert await deliver_all(runtime) == 4
    assert found.refused == 2
    texts = [e["data"]["text"] for e in found.accepted if e["type"] == "message.received"]
    assert texts == [f"mensagem {n}" for n in range(4)]
    assert len(found.ids) == len(set(found.ids))  # once each, acknowledged
    assert all(e["organization_id"] == str(assistant.organization_id) for e in found.accepted)
    assert await deliver_all(runtime) == 0
    assert SECRET not in caplog.text and SECRET.removeprefix("whsec_") not in caplog.text
    assert "assistant.push_failed" in caplog.text


async def test_without_a_url_nothing_is_pushed(
    runtime: Runtime, db: AsyncSession, app: FastAPI, sandbox: Sandbox
) -> None:
    assert runtime.settings.assistant_webhook_url is None
    assistant: Assistant = await connected_assistant(db, app, sandbox)
    assert assistant.key
    assert await push_events(runtime) == 0


def test_a_url_needs_a_well_formed_secret(settings: Settings) -> None:
    base = settings.model_dump()
    with pytest.raises(ValueError, match="ASSISTANT_WEBHOOK_SECRET"):
        Settings(_env_file=None, **(base | {"assistant_webhook_url": "https://a.example/x"}))
    with pytest.raises(ValueError, match="whsec_"):
        Settings(
            _env_file=None,
            **(base | {"assistant_webhook_url": "https://a.example/x", "assistant_webhook_secret": "abc"}),
        )
