"""The service process is SIGKILLed mid-signup; a fresh worker finishes from the step reached."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.config import Settings
from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.whatsapp.jobs import resume_due
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection
from tests.support.environment import service_env
from tests.support.factories import PASSWORD
from tests.support.live import free_port
from tests.support.signup import BASE


@pytest.fixture
def service(settings: Settings, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "qualifica.cli", "serve", "--port", str(port)],
        env=service_env(settings, callback_deadline_seconds="0.2"),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, "service did not start"
        time.sleep(0.1)
    try:
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def wait_for(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


async def kill_mid_signup(
    service: tuple[subprocess.Popen[bytes], str], admin: User, sandbox: Sandbox, crash_when: object
) -> None:
    process, url = service
    async with httpx.AsyncClient(base_url=url) as http:
        login = await http.post("/api/v1/auth/login", json={"email": admin.email, "password": PASSWORD})
        headers = {"X-CSRF-Token": login.cookies["qualifica_csrf"]}
        state = (await http.post(BASE + "/embedded-signup/start", headers=headers)).json()["state"]
        result = sandbox.complete_signup("finish")
        body = {"code": result.code, "state": state, "event": result.event, **result.data}
        response = await http.post(BASE + "/embedded-signup/callback", json=body, headers=headers)
        assert response.status_code == 202  # still working when the deadline passed
    wait_for(crash_when)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


async def resume_with_a_fresh_worker(app: FastAPI, db: AsyncSession) -> EmbeddedSignupAttempt:
    # The dead process's lease has to run out first; move the worker's clock past it instead of waiting.
    assert await resume_due(app.state.runtime, now=utcnow() + timedelta(seconds=31)) == 1
    db.expire_all()
    attempt: EmbeddedSignupAttempt | None = await db.scalar(select(EmbeddedSignupAttempt))
    assert attempt is not None
    return attempt


class TestCrashResume:
    async def test_killed_after_the_code_exchange(
        self,
        service: tuple[subprocess.Popen[bytes], str],
        app: FastAPI,
        admin: User,
        db: AsyncSession,
        sandbox: Sandbox,
    ) -> None:
        sandbox.set_latency("subscribed_apps", 3.0)  # the process is stuck after the exchange
        await kill_mid_signup(service, admin, sandbox, lambda: sandbox.requests("subscribed_apps"))
        sandbox.set_latency("subscribed_apps", None)
        db.expire_all()
        stuck = await db.scalar(select(EmbeddedSignupAttempt))
        assert stuck is not None and stuck.status is AttemptStatus.PROCESSING
        assert stuck.access_token is not None  # the token survived the crash, sealed

        attempt = await resume_with_a_fresh_worker(app, db)

        assert attempt.status is AttemptStatus.COMPLETED
        assert await db.scalar(select(WhatsAppConnection.status)) is not None
        assert len(sandbox.requests("oauth_access_token")) == 1
        assert len(sandbox.requests("register")) == 1

    async def test_killed_during_registration_after_subscribe(
        self,
        service: tuple[subprocess.Popen[bytes], str],
        app: FastAPI,
        admin: User,
        db: AsyncSession,
        sandbox: Sandbox,
    ) -> None:
        sandbox.set_latency("register", 1.0)  # Meta is still registering when the process dies
        await kill_mid_signup(service, admin, sandbox, lambda: sandbox.requests("register"))
        await asyncio.sleep(1.3)  # Meta finishes the registration it received
        sandbox.set_latency("register", None)

        attempt = await resume_with_a_fresh_worker(app, db)

        assert attempt.status is AttemptStatus.COMPLETED
        assert len(sandbox.requests("oauth_access_token")) == 1
        assert len(sandbox.requests("register")) == 1  # resumed by asking, not by registering again
        assert [r.method for r in sandbox.requests("subscribed_apps")].count("POST") == 1
