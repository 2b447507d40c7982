"""``accounts.retention``: login failures older than ``QUALIFICA_RETENTION_LOGIN_FAILURES_DAYS`` go, and
sessions that ended (expired or revoked) more than ``QUALIFICA_RETENTION_SESSIONS_DAYS`` ago.

Failures only feed the throttle's few-minute window; anonymous requests write them, so without this the table
grows with every guessed password. An ended session's row only refuses its cookie, which no longer works.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import LoginFailure, UserSession
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


async def purge_ended_sessions(runtime: Runtime, *, now: datetime | None = None, limit: int = BATCH) -> int:
    before = cutoff(runtime.settings.retention_sessions_days, now or utcnow())
    if before is None:
        return 0
    ended = or_(UserSession.expires_at < before, UserSession.revoked_at < before)

    async def remove(session: AsyncSession, ids: Sequence[uuid.UUID]) -> int:
        return deleted(await session.execute(delete(UserSession).where(UserSession.id.in_(ids), ended)))

    candidates = select(UserSession.id).where(ended).order_by(UserSession.expires_at).limit(limit)
    return await purge_batch(runtime, candidates, remove)


async def purge_accounts(runtime: Runtime) -> int:
    """One round of both; each batch is its own transaction."""
    return await purge_login_failures(runtime) + await purge_ended_sessions(runtime)


JOBS = (Job("accounts.retention", purge_accounts, interval=IDLE_SECONDS),)
