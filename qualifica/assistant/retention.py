"""``assistant.retention``: events go after ``QUALIFICA_RETENTION_EVENTS_DAYS`` once they are settled —
pushed, or, with no push configured, simply old (the cursor API serves the window that is kept). An event
still waiting for its push is never deleted, however old: it is owed to the assistant.
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
from qualifica.whatsapp.events import AssistantEvent


def _settled(before: datetime, pushing: bool) -> ColumnElement[bool]:
    old = AssistantEvent.created_at < before
    return and_(old, AssistantEvent.pushed_at.is_not(None)) if pushing else old


async def purge_old_events(runtime: Runtime, *, now: datetime | None = None, limit: int = BATCH) -> int:
    before = cutoff(runtime.settings.retention_events_days, now or utcnow())
    if before is None:
        return 0
    settled = _settled(before, pushing=bool(runtime.settings.assistant_webhook_url))

    async def remove(session: AsyncSession, ids: Sequence[uuid.UUID]) -> int:
        return deleted(
            await session.execute(delete(AssistantEvent).where(AssistantEvent.id.in_(ids), settled))
        )

    candidates = select(AssistantEvent.id).where(settled).order_by(AssistantEvent.created_at).limit(limit)
    return await purge_batch(runtime, candidates, remove)


JOB = Job("assistant.retention", purge_old_events, interval=IDLE_SECONDS)
