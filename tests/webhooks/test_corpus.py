"""Every real webhook body in the shared corpus is accepted, stored, split and routed without error."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.runtime import Runtime
from qualifica.webhooks.models import WebhookChange, WebhookEvent
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp.events import AssistantEvent
from tests.support.connections import make_connection
from tests.support.rows import count
from tests.support.webhooks import post_signed

# A copy of shared/fixtures/meta-webhooks (MIT-licensed pywa test data, see its README and licence).
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "meta-webhooks"
ROUTED_WABA = "102290129340398"  # the entry id of many corpus bodies: one of "our" connections


def corpus() -> list[bytes]:
    return [
        json.dumps(body).encode()
        for path in sorted(CORPUS.glob("*.json"))
        for body in json.loads(path.read_text()).values()
    ]


async def test_every_corpus_body_is_stored_and_routed(
    client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, runtime: Runtime
) -> None:
    bodies = corpus()
    assert len(bodies) >= 57
    connection = await make_connection(db, app, waba_id=ROUTED_WABA)
    for body in bodies:
        assert (await post_signed(client, body)).status_code == 200
    while await process_webhooks(runtime):  # the runner repeats a round while it finds work
        pass
    assert await count(db, WebhookEvent) == len(set(bodies))
    assert await count(db, WebhookEvent, WebhookEvent.outcome != "split") == 0
    changes = (await db.scalars(select(WebhookChange))).all()
    assert len(changes) == len(set(bodies))
    assert {c.outcome for c in changes} <= {"processed", "unmatched"}
    routed = [c for c in changes if c.waba_id == ROUTED_WABA]
    assert routed and all(c.organization_id == connection.organization_id for c in routed)
    # §15: the routed messages became the assistant's events, each at most once
    kinds = {e.type for e in await db.scalars(select(AssistantEvent))}
    assert "message.received" in kinds
