"""ARCHITECTURE §12: one open attempt per organization, and an attempt never overwrites a newer one's work."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.observability.models import AnalyticsEvent
from qualifica.runtime import Runtime
from qualifica.security.crypto import seal
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection
from qualifica.whatsapp.pipeline import run_attempt
from tests.support.metrics import metric
from tests.support.signup import Browser

CANCELLED = "qualifica_embedded_signup_cancelled_total"


async def attempts(db: AsyncSession) -> list[EmbeddedSignupAttempt]:
    db.expire_all()
    query = select(EmbeddedSignupAttempt).order_by(EmbeddedSignupAttempt.created_at)
    return list((await db.scalars(query)).all())


def superseded(response_json: dict[str, object]) -> bool:
    error = response_json.get("error")
    return isinstance(error, dict) and error.get("code") == "attempt_superseded"


class TestStartSupersedes:
    async def test_a_new_start_ends_the_open_attempt_and_its_callback_gets_409(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        before = metric(CANCELLED, step="superseded")
        first = await browser.start()
        second = await browser.start()
        old, new = await attempts(db)
        assert (old.status, old.step_cancelled) == (AttemptStatus.CANCELLED, "superseded")
        assert new.status is AttemptStatus.STARTED
        assert metric(CANCELLED, step="superseded") == before + 1
        names = await db.scalars(
            select(AnalyticsEvent.properties).where(AnalyticsEvent.name == "Embedded Signup Cancelled")
        )
        assert list(names) == [{"step_cancelled": "superseded"}]

        late = await browser.callback(first, sandbox.complete_signup())
        assert late.status_code == 409 and superseded(late.json()), late.text
        assert (await browser.finish(sandbox, second)).status_code == 200
        assert await db.scalar(select(func.count()).select_from(WhatsAppConnection)) == 1

    async def test_a_superseded_pin_attempt_loses_its_secrets_and_its_pin_is_refused(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup("finish_existing_number")
        sandbox.set_phone_pin(str(result.phone_number_id), "246810")
        assert (await browser.callback(state, result)).json()["status"] == "pin_required"
        (waiting,) = await attempts(db)
        assert waiting.access_token is not None

        await browser.start()  # the admin gave up on the PIN and started over in another tab
        waiting, _ = await attempts(db)
        assert (waiting.status, waiting.step_cancelled) == (AttemptStatus.CANCELLED, "superseded")
        assert (waiting.access_token, waiting.registration_pin) == (None, None)
        late = await browser.post("/connection/pin", {"pin": "246810"})
        assert late.status_code == 409 and superseded(late.json()), late.text
        assert len(sandbox.requests("register")) == 1  # the late PIN never reached Meta


class TestTwoTabs:
    async def test_two_tabs_finishing_together_make_one_connection_and_one_409(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        sandbox.set_latency("register", 0.4)
        first = await browser.start()
        running = asyncio.create_task(browser.callback(first, sandbox.complete_signup()))
        await asyncio.sleep(0.15)  # the first tab's pipeline is talking to Meta
        second = await browser.start()
        later = asyncio.create_task(browser.callback(second, sandbox.complete_signup()))
        one, two = await asyncio.gather(running, later)
        assert two.status_code == 200, two.text
        # The first tab learns it lost (409), or, past the callback's deadline on a slow host, is told to
        # poll (202) — never a 500; either way its attempt ends superseded below, not stuck processing.
        assert (one.status_code == 409 and superseded(one.json())) or one.status_code == 202, one.text
        for _ in range(50):  # the first runner may still be unwinding in the background
            statuses = [a.status for a in await attempts(db)]
            if AttemptStatus.PROCESSING not in statuses:
                break
            await asyncio.sleep(0.05)
        assert statuses == [AttemptStatus.CANCELLED, AttemptStatus.COMPLETED]
        assert await db.scalar(select(func.count()).select_from(WhatsAppConnection)) == 1
        assert (await attempts(db))[0].access_token is None


class TestNeverOverwrite:
    async def test_an_older_attempt_resumed_late_never_replaces_the_newer_connection(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, app: FastAPI, admin: User
    ) -> None:
        runtime: Runtime = app.state.runtime
        organization_id, user_id = admin.organization_id, admin.id
        assert (await browser.connect(sandbox)).status_code == 200
        db.expire_all()
        connection = await db.scalar(select(WhatsAppConnection))
        assert connection is not None
        kept = (connection.phone_number_id, connection.access_token, connection.last_attempt_id)
        # An attempt started before the one that connected, whose runner held the token and comes back now.
        result = sandbox.complete_signup()
        token = (await runtime.graph.exchange_code(str(result.code))).access_token
        old_id = uuid.uuid4()
        old = EmbeddedSignupAttempt(
            id=old_id,
            organization_id=organization_id,
            user_id=user_id,
            status=AttemptStatus.PROCESSING,
            step="token_exchanged",
            started_at=utcnow() - timedelta(minutes=5),
            state_consumed_at=utcnow() - timedelta(minutes=4),
            event=result.event,
            waba_id=result.waba_id,
            phone_number_id=result.phone_number_id,
            lease_owner=runtime.owner,
            lease_expires_at=utcnow() + timedelta(seconds=30),
        )
        old.access_token = seal(runtime.ring, old, "access_token", token)
        db.add(old)
        await db.commit()

        outcome = await run_attempt(runtime, old_id, holder=runtime.owner)
        assert outcome is not None and outcome.status_code == 409
        assert outcome.content()["error"]["code"] == "attempt_superseded"
        db.expire_all()
        connection = await db.scalar(select(WhatsAppConnection))
        assert connection is not None
        assert (connection.phone_number_id, connection.access_token, connection.last_attempt_id) == kept
        ended = await db.get(EmbeddedSignupAttempt, old_id)
        assert ended is not None
        assert (ended.status, ended.step_cancelled, ended.access_token) == (
            AttemptStatus.CANCELLED,
            "superseded",
            None,
        )
