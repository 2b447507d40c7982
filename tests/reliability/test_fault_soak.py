"""Fault soak: ``SOAK_SIGNUPS`` signups (default 200), a fifth with a Meta fault on one of the six calls.

Faults: transient errors (code 2), proxy pages (502 HTML), permanent errors (code 200: on a read of the WABA
or its number that is a WABA not granted, §14), timeouts (the call
takes longer than the client waits, every retry too) and slow calls. Signups run one after another so each
fault is known to belong to one signup; the expected ending of each is stated up front. Afterwards every
attempt has ended (postponed ones are resumed by a worker), exactly as expected, and every token Meta issued
is accounted for: in exactly one active connection, or wiped with a failed attempt, or never received.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.db import utcnow
from qualifica.meta.client import GraphClient
from qualifica.meta.sandbox import Sandbox
from qualifica.observability.analytics import EventName
from qualifica.observability.models import AnalyticsEvent
from qualifica.security.crypto import unseal
from qualifica.whatsapp.jobs import resume_due
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection
from tests.support import meta
from tests.support.accounts import credentials
from tests.support.factories import add_user

SIGNUPS = int(os.environ.get("SOAK_SIGNUPS", "200"))
FAULT_RATE = 0.2
REQUEST_TIMEOUT = 0.25  # the client's per-call wait in this test; a "timeout" fault takes 0.6 s
STEP_OF = {
    "oauth_access_token": "token_exchange",
    "debug_token": "waba_lookup",
    "phone_number": "phone_lookup",
    "waba": "waba_lookup",
    "subscribed_apps": "webhook_subscription",
    "register": "registration",
}
KINDS = ("transient", "proxy_page", "permanent", "timeout", "slow")
W = "/api/v1/whatsapp"


@dataclass(frozen=True)
class Fault:
    endpoint: str
    kind: str

    def inject(self, sandbox: Sandbox) -> None:
        if self.kind == "transient":
            sandbox.fail_next(self.endpoint, code=2, is_transient=True)
        elif self.kind == "proxy_page":
            sandbox.fail_next(self.endpoint, http_status=502, raw_body="<html>502 Bad Gateway</html>")
        elif self.kind == "permanent":
            sandbox.fail_next(self.endpoint, code=200, message="(#200) Permissions error")
        else:
            sandbox.set_latency(self.endpoint, 0.6 if self.kind == "timeout" else 0.15)

    def clear(self, sandbox: Sandbox) -> None:
        sandbox.set_latency(self.endpoint, None)
        sandbox.clear_failures(self.endpoint)

    @property
    def statuses(self) -> tuple[int, ...]:
        """A permission error on a read of the WABA or its number is a WABA not granted (ARCHITECTURE §14)."""
        if self.kind == "permanent" and self.endpoint in ("waba", "phone_number"):
            return (400,)
        return (200, 202, 401, 502)

    @property
    def expected(self) -> tuple[AttemptStatus, str | None]:
        """How the attempt must end: Meta said no for good, or a code exchange nobody heard back from."""
        if self.statuses == (400,):  # proving access reads the WABA and its numbers: one step, waba_lookup
            return AttemptStatus.FAILED, "waba_lookup"
        if self.kind == "permanent" or (self.kind == "timeout" and self.endpoint == "oauth_access_token"):
            return AttemptStatus.FAILED, STEP_OF[self.endpoint]
        return AttemptStatus.COMPLETED, None


def plan(count: int, seed: int = 20) -> list[Fault | None]:
    rng = random.Random(seed)
    faults = [Fault(endpoint, kind) for endpoint in STEP_OF for kind in KINDS]
    return [rng.choice(faults) if rng.random() < FAULT_RATE else None for _ in range(count)]


async def test_every_attempt_ends_as_expected_and_no_token_is_lost(
    app: FastAPI, db: AsyncSession, sandbox: Sandbox
) -> None:
    runtime = app.state.runtime
    runtime.graph = GraphClient(
        app.state.meta_http,
        graph_url=app.state.settings.meta_graph_url,
        version=app.state.settings.meta_graph_version,
        app_id=meta.APP_ID,
        app_secret=meta.APP_SECRET,
        request_timeout=REQUEST_TIMEOUT,
    )
    admins = [await add_user(db) for _ in range(SIGNUPS)]
    await db.commit()
    seeded_tokens = set(sandbox.world.tokens)
    faults = plan(SIGNUPS)
    expected: dict[str, tuple[AttemptStatus, str | None]] = {}
    transport = httpx.ASGITransport(app=app)
    for admin, fault in zip(admins, faults, strict=True):
        creds = await credentials(app.state.settings, admin)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", cookies=creds.cookies) as http:
            start = await http.post(f"{W}/embedded-signup/start", headers=creds.headers)
            result = sandbox.complete_signup("finish_new_waba")  # one WABA per agency (§12)
            if fault:
                fault.inject(sandbox)
            body = {"code": result.code, "state": start.json()["state"], "event": result.event, **result.data}
            answer = await http.post(f"{W}/embedded-signup/callback", json=body, headers=creds.headers)
            assert answer.status_code in (fault.statuses if fault else (200,)), (fault, answer.text)
            if fault:
                fault.clear(sandbox)
        expected[str(admin.organization_id)] = fault.expected if fault else (AttemptStatus.COMPLETED, None)

    for _ in range(20):  # the worker resumes what was postponed (Meta timed out) until nothing is left
        if not await resume_due(runtime, now=utcnow() + timedelta(hours=2)):
            break
    db.expire_all()
    attempts = (await db.scalars(select(EmbeddedSignupAttempt))).all()
    assert len(attempts) == SIGNUPS
    connections = {c.organization_id: c for c in (await db.scalars(select(WhatsAppConnection))).all()}
    tokens: list[str] = []
    failed_after_exchange = 0
    for attempt in attempts:
        status, step = expected[str(attempt.organization_id)]
        where = (str(attempt.id), attempt.status, attempt.step_failed, attempt.error_code)
        assert (attempt.status, attempt.step_failed) == (status, step), where
        assert attempt.access_token is None and attempt.registration_pin is None
        assert attempt.lease_owner is None
        connection = connections.get(attempt.organization_id)
        if status is AttemptStatus.COMPLETED:
            assert connection is not None and connection.last_attempt_id == attempt.id
            assert connection.status.value == "active" and connection.connected_at is not None
            assert connection.waba_id and connection.phone_number_id and connection.display_phone_number
            token = unseal(runtime.ring, connection, "access_token")
            assert token in sandbox.world.tokens and not sandbox.world.tokens[token].revoked
            tokens.append(token)
        else:
            assert attempt.error_code in {"meta_error", "session_expired", "waba_not_granted"}, where
            assert connection is None, "a failed signup left a connection behind"
            failed_after_exchange += step != "token_exchange"
    assert len(set(tokens)) == len(tokens), "two connections share a token"
    issued = set(sandbox.world.tokens) - seeded_tokens
    unheard = sum(1 for f in faults if f and f.kind == "timeout" and f.endpoint == "oauth_access_token")
    assert set(tokens) <= issued
    assert len(issued) == len(tokens) + failed_after_exchange + unheard  # every token accounted for

    events = dict(
        (await db.execute(select(AnalyticsEvent.name, func.count()).group_by(AnalyticsEvent.name))).all()
    )
    completed = sum(1 for s, _ in expected.values() if s is AttemptStatus.COMPLETED)
    assert events.get(EventName.SIGNUP_COMPLETED.value) == completed
    assert events.get(EventName.SIGNUP_FAILED.value, 0) == SIGNUPS - completed
