"""``signup.retention``: ended signup attempts go after ``QUALIFICA_RETENTION_ATTEMPTS_DAYS``.

Ended means a final status and a ``finished_at`` before the cutoff; an attempt still open (started,
processing, waiting for the PIN) is never touched, however old, and neither is the attempt a connection
names as its last one (the settings page and ``/ops`` show how it went).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.db import utcnow
from qualifica.jobs.retention import BATCH, IDLE_SECONDS, cutoff, deleted, purge_batch
from qualifica.jobs.runner import Job
from qualifica.runtime import Runtime
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection

OPEN = (AttemptStatus.STARTED, AttemptStatus.PROCESSING, AttemptStatus.PIN_REQUIRED)
Attempt = EmbeddedSignupAttempt


def _ended_before(before: datetime) -> ColumnElement[bool]:
    named = select(WhatsAppConnection.last_attempt_id).where(WhatsAppConnection.last_attempt_id.is_not(None))
    return and_(
        Attempt.status.not_in(OPEN),
        Attempt.finished_at.is_not(None),
        Attempt.finished_at < before,
        Attempt.id.not_in(named),
    )


async def purge_ended_attempts(runtime: Runtime, *, now: datetime | None = None, limit: int = BATCH) -> int:
    before = cutoff(runtime.settings.retention_attempts_days, now or utcnow())
    if before is None:
        return 0
    ended = _ended_before(before)

    async def remove(session: AsyncSession, ids: Sequence[uuid.UUID]) -> int:
        return deleted(await session.execute(delete(Attempt).where(Attempt.id.in_(ids), ended)))

    candidates = select(Attempt.id).where(ended).order_by(Attempt.finished_at).limit(limit)
    return await purge_batch(runtime, candidates, remove)


JOB = Job("signup.retention", purge_ended_attempts, interval=IDLE_SECONDS)
