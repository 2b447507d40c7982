"""``analytics.retention``: analytics events delivered to Segment go after
``QUALIFICA_RETENTION_ANALYTICS_DAYS``.

Only delivered events: one still waiting for (or given up on) delivery is the only copy, so it stays —
without ``QUALIFICA_SEGMENT_WRITE_KEY`` nothing is delivered and the table is kept whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.db import utcnow
from qualifica.jobs.retention import BATCH, IDLE_SECONDS, cutoff, deleted, purge_batch
from qualifica.jobs.runner import Job
from qualifica.observability.models import AnalyticsEvent
from qualifica.runtime import Runtime


async def purge_delivered_analytics(
    runtime: Runtime, *, now: datetime | None = None, limit: int = BATCH
) -> int:
    before = cutoff(runtime.settings.retention_analytics_days, now or utcnow())
    if before is None:
        return 0
    # Delivered after it occurred: ``occurred_at`` (indexed) narrows the scan to the old events.
    delivered = and_(
        AnalyticsEvent.occurred_at < before,
        AnalyticsEvent.delivered_at.is_not(None),
        AnalyticsEvent.delivered_at < before,
    )

    async def remove(session: AsyncSession, ids: Sequence[uuid.UUID]) -> int:
        statement = delete(AnalyticsEvent).where(AnalyticsEvent.id.in_(ids), delivered)
        return deleted(await session.execute(statement))

    candidates = select(AnalyticsEvent.id).where(delivered).order_by(AnalyticsEvent.occurred_at).limit(limit)
    return await purge_batch(runtime, candidates, remove)


JOB = Job("analytics.retention", purge_delivered_analytics, interval=IDLE_SECONDS)
