"""Leases are held per claim (a token of its own) and judged by the database's clock, not a host's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.db import utcnow
from qualifica.jobs.leases import LeaseLost
from qualifica.runtime import Runtime
from qualifica.webhooks import processing
from qualifica.whatsapp import attempts, jobs
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt
from tests.support.webhooks import account_entry, envelope, post_signed


async def abandoned(db: AsyncSession, admin: User) -> uuid.UUID:
    """A processing attempt whose holder vanished (its lease ran out a second ago)."""
    attempt_id = uuid.uuid4()
    db.add(
        EmbeddedSignupAttempt(
            id=attempt_id,
            organization_id=admin.organization_id,
            user_id=admin.id,
            status=AttemptStatus.PROCESSING,
            step="callback_received",
            started_at=utcnow(),
            state_consumed_at=utcnow(),
            lease_owner="gone",
            lease_expires_at=utcnow() - timedelta(seconds=1),
        )
    )
    await db.commit()
    return attempt_id


def another_host(runtime: Runtime) -> Runtime:
    """A second process against the same database."""
    return Runtime(runtime.settings, runtime.sessionmaker, runtime.graph, runtime.ring, runtime.signer)


def skewed(hours: float) -> Callable[[], datetime]:
    return lambda: datetime.now().astimezone() + timedelta(hours=hours)


class TestOneHolderPerClaim:
    async def test_two_claims_in_one_process_never_both_hold(
        self, db: AsyncSession, admin_user: User, runtime: Runtime
    ) -> None:
        attempt_id = await abandoned(db, admin_user)
        first = await attempts.claim(runtime, attempt_id)
        assert first is not None
        assert await attempts.claim(runtime, attempt_id) is None  # held, even by this very process
        # The first run stalls past its lease; a second run of the same process takes the attempt over.
        await db.execute(
            update(EmbeddedSignupAttempt).values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
        second = await attempts.claim(runtime, attempt_id)
        assert second is not None and second != first
        with pytest.raises(LeaseLost):  # the stalled run writes nothing more
            await attempts.write(runtime, attempt_id, holder=first, step="token_exchanged")
        await attempts.write(runtime, attempt_id, holder=second, step="token_exchanged")


class TestDatabaseClock:
    async def test_a_host_whose_clock_runs_ahead_does_not_steal_a_live_attempt(
        self, db: AsyncSession, admin_user: User, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        attempt_id = await abandoned(db, admin_user)
        assert await attempts.claim(runtime, attempt_id) is not None  # live for 30 s by the database
        for module in (jobs, attempts):
            monkeypatch.setattr(module, "utcnow", skewed(hours=1))
        assert await jobs.resume_due(another_host(runtime)) == 0

    async def test_a_host_whose_clock_runs_ahead_does_not_steal_a_live_webhook_change(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        runtime: Runtime,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await post_signed(client, envelope(account_entry("MM_LITE_TERMS_SIGNED", "4400000000001")))
        await processing.split_pending(runtime)
        assert len((await processing.claim_due(runtime)).ids) == 1
        monkeypatch.setattr(processing, "utcnow", skewed(hours=1))
        assert (await processing.claim_due(another_host(runtime))).ids == []
