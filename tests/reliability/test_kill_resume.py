"""Kill and resume: the web and worker processes are SIGKILLed at random moments during signups.

A browser whose callback hit a dead process posts it again (same state, same code) until it gets an answer;
each killed process is restarted at once. Afterwards every attempt ends; Meta saw no code exchanged twice
and no number registered twice; a failure is only ever the one a crash can honestly cause (the process died
holding a code it may or may not have spent: ``session_expired`` at ``token_exchange``).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.config import Settings
from qualifica.meta.sandbox import Sandbox
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection
from tests.support.accounts import Credentials, credentials
from tests.support.environment import service_env
from tests.support.factories import add_user
from tests.support.live import free_port
from tests.support.processes import Process, processes

SIGNUPS = int(os.environ.get("KILL_SIGNUPS", "24"))
ENDED = (AttemptStatus.COMPLETED, AttemptStatus.FAILED, AttemptStatus.CANCELLED)
LANES = 4
W = "/api/v1/whatsapp"
ENDPOINTS = ("oauth_access_token", "debug_token", "phone_number", "waba", "subscribed_apps", "register")


async def post_until_answered(url: str, creds: Credentials, body: dict[str, object]) -> int:
    deadline = time.monotonic() + 90
    while True:
        try:
            async with httpx.AsyncClient(base_url=url, cookies=creds.cookies, timeout=30) as http:
                response = await http.post(f"{W}/embedded-signup/callback", json=body, headers=creds.headers)
                return response.status_code
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the service never came back"
            await asyncio.sleep(0.2)


async def start(url: str, creds: Credentials) -> str:
    while True:
        try:
            async with httpx.AsyncClient(base_url=url, cookies=creds.cookies, timeout=30) as http:
                response = await http.post(f"{W}/embedded-signup/start", headers=creds.headers)
            if response.status_code == 200:
                state: str = response.json()["state"]
                return state
        except httpx.TransportError:
            await asyncio.sleep(0.2)


async def chaos(web: Process, worker: Process, ready: str, stop: asyncio.Event, kills: Counter[str]) -> None:
    rng = random.Random(int(os.environ.get("KILL_SEED", "9")))
    while not stop.is_set():
        await asyncio.sleep(rng.uniform(0.3, 1.0))
        victim = rng.choice((web, worker))
        assert victim.popen is not None
        victim.popen.send_signal(signal.SIGKILL)
        victim.popen.wait(timeout=10)
        kills[victim.name] += 1
        await asyncio.to_thread(victim.start, ready if victim is web else None)


async def test_every_attempt_finishes_after_random_kills(
    settings: Settings, app: FastAPI, db: AsyncSession, sandbox: Sandbox, tmp_path: Path
) -> None:
    for endpoint in ENDPOINTS:
        sandbox.set_latency(endpoint, (0.05, 0.35))
    admins = [await add_user(db) for _ in range(SIGNUPS)]
    await db.commit()
    organizations = sorted(str(admin.organization_id) for admin in admins)
    port = free_port()
    url, ready = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/readyz"
    env = service_env(settings, callback_deadline_seconds="0.5")
    web = Process("kill-web", ["serve", "--port", str(port)], env, tmp_path)
    worker = Process("kill-worker", ["worker"], env, tmp_path)
    kills: Counter[str] = Counter()
    with processes(web, worker):
        worker.start()
        web.start(ready)
        stop = asyncio.Event()
        monkey = asyncio.create_task(chaos(web, worker, ready, stop, kills))
        queue = [await credentials(settings, admin) for admin in admins]

        async def lane() -> None:
            while queue:
                creds = queue.pop()
                state = await start(url, creds)
                result = sandbox.complete_signup("finish_new_waba")  # one WABA per agency (§12)
                body = {"code": result.code, "state": state, "event": result.event, **result.data}
                assert await post_until_answered(url, creds, body) in (200, 202, 401)

        await asyncio.gather(*(lane() for _ in range(LANES)))
        stop.set()
        await monkey
        deadline = time.monotonic() + 120  # a dead holder's lease (30 s) must run out before a resume
        while time.monotonic() < deadline:
            db.expire_all()
            open_ = (await db.scalars(select(EmbeddedSignupAttempt.status))).all()
            if all(s in ENDED for s in open_):
                break
            await asyncio.sleep(1)
    assert sum(kills.values()) >= 3, kills

    everything = (await db.scalars(select(EmbeddedSignupAttempt))).all()
    # A start whose answer a kill swallowed is sent again: the new attempt supersedes the first (§12),
    # which ends cancelled with nothing kept. Every organization has exactly one attempt that was not.
    superseded = [a for a in everything if a.step_cancelled == "superseded"]
    assert all(a.status is AttemptStatus.CANCELLED and a.access_token is None for a in superseded)
    attempts = [a for a in everything if a.step_cancelled != "superseded"]
    assert sorted(str(a.organization_id) for a in attempts) == organizations
    for attempt in attempts:
        where = (str(attempt.id), attempt.status, attempt.step, attempt.step_failed, attempt.error_code)
        assert attempt.status in (AttemptStatus.COMPLETED, AttemptStatus.FAILED), where
        if attempt.status is AttemptStatus.FAILED:
            assert (attempt.step_failed, attempt.error_code) == ("token_exchange", "session_expired"), where
        assert attempt.access_token is None
    completed = sum(a.status is AttemptStatus.COMPLETED for a in attempts)
    assert completed >= SIGNUPS // 2, "most signups should survive the kills"
    connections = (await db.scalars(select(WhatsAppConnection))).all()
    assert len(connections) == completed
    codes = Counter(r.query.get("code") for r in sandbox.requests("oauth_access_token"))
    assert set(codes.values()) <= {1}, "Meta saw a code exchanged twice"
    registered = Counter(r.path for r in sandbox.requests("register"))
    assert set(registered.values()) <= {1}, "Meta saw a number registered twice"
