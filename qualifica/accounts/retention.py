"""``accounts.retention``: login failures older than ``QUALIFICA_RETENTION_LOGIN_FAILURES_DAYS`` go.

They only feed the throttle's few-minute window; anonymous requests write them, so without this the table
grows with every guessed password.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import LoginFailure
from qualifica.db import utcnow
from qualifica.jobs.retention import BATCH, IDLE_SECONDS, cutoff, deleted, purge_batch
from qualifica.jobs.runner import Job
from qualifica.runtime import Runtime


async def purge_login_failures(runtime: Runtime, *, now: datetime | None = None, limit: int = BATCH) -> int:
    before = cutoff(runtime.settings.retention_login_failures_days, now or utcnow())
    if before is None:
        return 0
    old = LoginFailure.created_at < before

    async def remove(session: AsyncSession, ids: Sequence[int]) -> int:
        return deleted(await session.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids), old)))

    candidates = select(LoginFailure.id).where(old).order_by(LoginFailure.created_at).limit(limit)
    return await purge_batch(runtime, candidates, remove)


JOBS = (Job("accounts.retention", purge_login_failures, interval=IDLE_SECONDS),)
