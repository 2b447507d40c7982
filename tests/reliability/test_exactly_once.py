"""Exactly once at scale: two web processes and two workers on one PostgreSQL.

Every callback is posted four times at once (twice to each web process) and every webhook body is delivered
four times at once (twice to each): one code exchange, one connection, one answer; one stored body, one
change, one processing, one status change per connection.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.audit import AuditEntry
from qualifica.config import WEBHOOK_PATH, Settings
from qualifica.meta.sandbox import Sandbox
from qualifica.meta.sandbox.webhooks import account_update, entry
from qualifica.meta.sandbox.world import PARTNER_BUSINESS_ID
from qualifica.webhooks.models import WebhookChange, WebhookEvent
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection
from tests.support import meta
from tests.support.accounts import credentials
from tests.support.environment import service_env
from tests.support.factories import add_user
from tests.support.live import free_port
from tests.support.processes import Process, processes
from tests.support.rows import count
from tests.support.webhooks import signed

SIGNUPS = 12
W = "/api/v1/whatsapp"


@pytest.fixture
def fleet(settings: Settings, tmp_path: Path) -> Iterator[list[str]]:
    env = service_env(settings)
    ports = [free_port(), free_port()]
    webs = [Process(f"web{i}", ["serve", "--port", str(p)], env, tmp_path) for i, p in enumerate(ports)]
    workers = [Process(f"worker{i}", ["worker"], env, tmp_path) for i in range(2)]
    with processes(*webs, *workers):
        for item in workers:
            item.start()
        for item, port in zip(webs, ports, strict=True):
            item.start(f"http://127.0.0.1:{port}/readyz")
        yield [f"http://127.0.0.1:{port}" for port in ports]


async def four_times(
    urls: list[str], method: str, path: str, cookies: dict[str, str] | None = None, **kwargs: object
) -> list[httpx.Response]:
    async def one(url: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=url, timeout=30, cookies=cookies) as http:
            return await http.request(method, path, **kwargs)  # type: ignore[arg-type]

    return list(await asyncio.gather(*(one(url) for url in urls * 2)))


async def test_duplicate_callbacks_and_deliveries_take_effect_once(
    fleet: list[str], app: FastAPI, db: AsyncSession, sandbox: Sandbox
) -> None:
    sandbox.set_latency("oauth_access_token", 0.05)
    admins = [await add_user(db) for _ in range(SIGNUPS)]
    await db.commit()
    wabas = []
    for admin in admins:
        creds = await credentials(app.state.settings, admin)
        async with httpx.AsyncClient(base_url=fleet[0], cookies=creds.cookies) as http:
            state = (await http.post(f"{W}/embedded-signup/start", headers=creds.headers)).json()["state"]
        result = sandbox.complete_signup("finish_new_waba")
        body = {"code": result.code, "state": state, "event": result.event, **result.data}
        answers = await four_times(
            fleet,
            "POST",
            f"{W}/embedded-signup/callback",
            json=body,
            headers=creds.headers,
            cookies=creds.cookies,
        )
        assert {(r.status_code, r.text) for r in answers} == {(answers[0].status_code, answers[0].text)}
        assert answers[0].status_code == 200, answers[0].text
        wabas.append(result.waba_id)

    codes = Counter(r.query.get("code") for r in sandbox.requests("oauth_access_token"))
    assert len(codes) == SIGNUPS and set(codes.values()) == {1}, "a code was exchanged twice"
    registered = Counter(r.path for r in sandbox.requests("register"))
    assert set(registered.values()) == {1}, "a number was registered twice"
    assert await count(db, WhatsAppConnection) == SIGNUPS

    bodies = []
    for waba_id in wabas:
        value = account_update("PARTNER_APP_UNINSTALLED", str(waba_id), "1", partner_app_id=meta.APP_ID)
        document = {
            "object": "whatsapp_business_account",
            "entry": [entry(PARTNER_BUSINESS_ID, "account_update", value, time.time())],
        }
        bodies.append(json.dumps(document).encode())
    for raw in bodies:
        answers = await four_times(fleet, "POST", WEBHOOK_PATH, content=raw, headers=signed(raw))
        assert [r.status_code for r in answers] == [200] * 4
        assert sorted(r.json()["duplicate"] for r in answers) == [False, True, True, True]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the workers pick the changes up within a few seconds
        db.expire_all()
        settled = await count(db, WebhookChange, WebhookChange.processed_at.is_not(None))
        if settled == SIGNUPS:
            break
        await asyncio.sleep(0.5)
    assert await count(db, WebhookEvent) == SIGNUPS
    changes = (await db.scalars(select(WebhookChange))).all()
    assert len(changes) == SIGNUPS
    assert {(c.outcome, c.attempts) for c in changes} == {("processed", 1)}, "a change was processed twice"
    statuses = (await db.scalars(select(WhatsAppConnection.status))).all()
    assert statuses == [ConnectionStatus.ERROR] * SIGNUPS
    assert await count(db, AuditEntry, AuditEntry.action == "whatsapp.status_changed") == SIGNUPS
