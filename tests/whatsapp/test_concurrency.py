from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.app import build_runtime
from qualifica.config import Settings
from qualifica.db import create_engine, create_sessionmaker, utcnow
from qualifica.meta.client import GraphClient
from qualifica.meta.sandbox import Sandbox
from qualifica.security.crypto import seal
from qualifica.whatsapp.jobs import resume_due
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection
from tests.support.factories import make_org, make_user
from tests.support.signup import Browser


class TestDuplicateCallbacks:
    async def test_ten_identical_callbacks_make_one_exchange_and_one_connection(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        sandbox.set_latency("oauth_access_token", 0.2)
        state = await browser.start()
        result = sandbox.complete_signup()
        responses = await asyncio.gather(*(browser.callback(state, result) for _ in range(10)))
        answers = {(r.status_code, r.text) for r in responses}
        assert len(answers) == 1, answers
        assert responses[0].status_code == 200
        assert len(sandbox.requests("oauth_access_token")) == 1
        assert len(sandbox.requests("register")) == 1
        assert await db.scalar(select(func.count()).select_from(WhatsAppConnection)) == 1


class TestDeadline:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"callback_deadline_seconds": 0.3})

    async def test_slow_meta_answers_202_and_finishes_in_the_background(
        self, browser: Browser, sandbox: Sandbox
    ) -> None:
        sandbox.set_latency("register", 0.8)
        state = await browser.start()
        response = await browser.callback(state, sandbox.complete_signup())
        assert response.status_code == 202
        assert response.json() == {
            "success": False,
            "status": "processing",
            "attempt_id": response.json()["attempt_id"],
        }
        status = await browser.status()
        assert status["status"] == "connecting" and status["attempt_id"] == response.json()["attempt_id"]
        for _ in range(100):
            status = await browser.status()
            if status["status"] != "connecting":
                break
            await asyncio.sleep(0.05)
        assert status["status"] == "active"
        again = await browser.callback(state, sandbox.complete_signup())  # a new code on the same state
        assert again.status_code == 409


async def _abandoned_attempt(
    db: AsyncSession, app: FastAPI, graph: GraphClient, sandbox: Sandbox
) -> EmbeddedSignupAttempt:
    """An attempt whose first runner exchanged the code, persisted the token and then died."""
    organization = await make_org(db, "Imobiliária Paralela")
    user = await make_user(db, organization)
    result = sandbox.complete_signup("finish_new_waba")  # one WABA per organization (§12)
    token = (await graph.exchange_code(str(result.code))).access_token
    attempt = EmbeddedSignupAttempt(
        organization_id=organization.id,
        user_id=user.id,
        status=AttemptStatus.PROCESSING,
        step="token_exchanged",
        started_at=utcnow() - timedelta(seconds=5),
        event=result.event,
        waba_id=result.waba_id,
        phone_number_id=result.phone_number_id,
        lease_owner="crashed-process",
        lease_expires_at=utcnow() - timedelta(seconds=1),
    )
    attempt.access_token = seal(app.state.runtime.ring, attempt, "access_token", token)
    db.add(attempt)
    await db.commit()
    return attempt


class TestTwoWorkers:
    async def test_two_workers_never_run_the_same_step_twice(
        self, app: FastAPI, db: AsyncSession, sandbox: Sandbox, settings: Settings
    ) -> None:
        graph = app.state.runtime.graph
        attempts = [await _abandoned_attempt(db, app, graph, sandbox) for _ in range(6)]
        phones = sorted(f"{a.phone_number_id}/register" for a in attempts)
        sandbox.clear_requests()
        sandbox.set_latency("register", 0.05)
        engines = [create_engine(settings.database_url) for _ in range(2)]
        try:
            async with httpx.AsyncClient() as http:
                workers = [build_runtime(settings, create_sessionmaker(engine), http) for engine in engines]
                later = utcnow() + timedelta(seconds=1)
                taken = await asyncio.gather(*(resume_due(w, now=later) for w in workers for _ in range(2)))
        finally:
            for engine in engines:
                await engine.dispose()
        assert sum(taken) == len(attempts)
        db.expire_all()
        statuses = (await db.scalars(select(EmbeddedSignupAttempt.status))).all()
        assert statuses == [AttemptStatus.COMPLETED] * len(attempts)
        registered = [r.path for r in sandbox.requests("register")]
        assert sorted(registered) == phones
        assert len(sandbox.requests("debug_token")) == len(attempts)
        assert sandbox.requests("oauth_access_token") == []
