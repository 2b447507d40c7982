"""The webhook inbox's group commit: many deliveries share one commit, each answered only after it, and one
row the database refuses fails only its own request."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.webhooks import inbox
from qualifica.webhooks.models import WebhookEvent
from tests.support.rows import count
from tests.support.webhooks import post_signed


async def test_concurrent_deliveries_share_commits_and_a_bad_row_fails_alone(
    client: httpx.AsyncClient, db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = [json.dumps({"object": "whatsapp_business_account", "n": n}).encode() for n in range(60)]
    poison = inbox.digest(bodies[7])
    batches: list[int] = []
    real = inbox.insert_rows

    async def refusing(connection: Any, rows: list[dict[str, Any]]) -> Any:
        batches.append(len(rows))
        if any(row["sha256"] == poison for row in rows):
            raise RuntimeError("the database refused a row")
        return await real(connection, rows)

    monkeypatch.setattr(inbox, "insert_rows", refusing)
    deliveries = [*bodies, bodies[3], bodies[3]]  # a duplicate in the same burst
    results = await asyncio.gather(
        *(post_signed(client, raw) for raw in deliveries),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, BaseException)]
    answers = [r for r in results if isinstance(r, httpx.Response)]
    refused = [r for r in answers if r.status_code != 200]  # the poison row's own request: 500
    assert [(r.status_code, r.json()["error"]["code"]) for r in refused] == [(500, "internal_error")]
    assert sum(r.json()["duplicate"] for r in answers if r.status_code == 200) == 2
    assert max(batches) > 1, "the burst never shared a commit"
    assert await count(db, WebhookEvent) == len(bodies) - 1
