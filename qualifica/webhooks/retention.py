"""``webhook.retention``: stored bodies and their changes, once all settled, go after
``QUALIFICA_RETENTION_WEBHOOKS_DAYS``.

A body goes with its changes, and only when the body was split and every one of its changes settled before the
cutoff: a change still pending or waiting for a retry keeps its body (and its siblings) in place.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.db import utcnow
from qualifica.jobs.retention import BATCH, IDLE_SECONDS, cutoff, deleted, purge_batch
from qualifica.jobs.runner import Job
from qualifica.runtime import Runtime
from qualifica.webhooks.models import WebhookChange, WebhookEvent


def _settled_before(before: datetime) -> ColumnElement[bool]:
    unsettled_change = exists().where(
        WebhookChange.event_id == WebhookEvent.id,
        or_(WebhookChange.processed_at.is_(None), WebhookChange.processed_at >= before),
    )
    return and_(WebhookEvent.processed_at.is_not(None), WebhookEvent.processed_at < before, ~unsettled_change)


async def purge_processed_webhooks(
    runtime: Runtime, *, now: datetime | None = None, limit: int = BATCH
) -> int:
    """Returns how many bodies went (each with its changes)."""
    before = cutoff(runtime.settings.retention_webhooks_days, now or utcnow())
    if before is None:
        return 0
    settled = _settled_before(before)

    async def remove(session: AsyncSession, ids: Sequence[uuid.UUID]) -> int:
        gone = list(await session.scalars(select(WebhookEvent.id).where(WebhookEvent.id.in_(ids), settled)))
        if not gone:
            return 0
        # Changes first: SQLite's cascade depends on a pragma, and the order is the same on both databases.
        await session.execute(delete(WebhookChange).where(WebhookChange.event_id.in_(gone)))
        return deleted(await session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(gone))))

    candidates = select(WebhookEvent.id).where(settled).order_by(WebhookEvent.processed_at).limit(limit)
    return await purge_batch(runtime, candidates, remove)


JOB = Job("webhook.retention", purge_processed_webhooks, interval=IDLE_SECONDS)
