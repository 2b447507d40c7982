"""``analytics.deliver``: the worker sends stored analytics events to Segment, with retries.

The ``analytics_events`` table is the outbox: an event is written in the transaction of the change it
describes, and this job delivers it afterwards — so a Segment outage never fails a signup, and nothing is
lost. Each event goes out as a ``track`` with ``userId``, ``messageId`` = the event id (Segment drops a
duplicate delivery) and ``context.groupId`` = the organization. A failed delivery is retried with an
exponential backoff; ``delivered_at`` records success. Workers claim events with a short lease
(compare-and-set on ``next_attempt_at``), so two workers do not send the same event at the same time.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from segment.analytics.client import Client
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from qualifica.db import utcnow
from qualifica.jobs.leases import RetryPolicy, database_now, not_before
from qualifica.jobs.runner import Job
from qualifica.logging import get_logger
from qualifica.observability.models import AnalyticsEvent
from qualifica.runtime import Runtime

log = get_logger(__name__)
SEGMENT_HOST = "https://api.segment.io"
BATCH = 50
# 5 s, 10 s, 20 s … capped at an hour: about 2.5 h of retries, then the event stays visible as failed.
RETRY = RetryPolicy.seconds(lease=60, first_delay=5, max_delay=3600, max_attempts=12)


@dataclass(frozen=True)
class Outgoing:
    id: uuid.UUID
    name: str
    organization_id: uuid.UUID | None
    user_id: uuid.UUID | None
    properties: dict[str, Any]
    occurred_at: datetime
    claimed_until: datetime | None = None  # the claim (its lease's end): recording the result names it


class SegmentSink:
    """Segment's own library in synchronous mode: ``track`` returns once Segment accepted the event."""

    def __init__(self, write_key: str, *, host: str = SEGMENT_HOST, timeout: float = 10.0) -> None:
        # The library logs whole request bodies, write key included, at DEBUG: never let that through.
        logging.getLogger("segment").setLevel(logging.WARNING)
        self._client = Client(write_key=write_key, host=host, sync_mode=True, timeout=timeout, max_retries=0)

    def send(self, event: Outgoing) -> None:
        """Blocking: run it in a thread. Raises when Segment did not accept the event."""
        organization = str(event.organization_id) if event.organization_id else None
        self._client.track(
            user_id=str(event.user_id) if event.user_id else None,
            # Events without a user (a disconnection seen by a Meta webhook) belong to the organization.
            anonymous_id=None if event.user_id else f"organization:{organization or 'unknown'}",
            event=event.name,
            properties=dict(event.properties),
            context={"groupId": organization} if organization else {},
            timestamp=event.occurred_at,
            message_id=str(event.id),
        )

    def send_all(self, events: list[Outgoing]) -> list[str | None]:
        """One result per event: None when delivered, else a short error (never the request body)."""
        results: list[str | None] = []
        for event in events:
            try:
                self.send(event)
            except Exception as error:  # every failure is retried later; the reason is kept for support
                results.append(f"{type(error).__name__}: {str(error)[:300]}")
            else:
                results.append(None)
        return results


def _due(now: datetime | None) -> ColumnElement[bool]:
    return and_(
        AnalyticsEvent.delivered_at.is_(None),
        AnalyticsEvent.delivery_attempts < RETRY.max_attempts,
        not_before(AnalyticsEvent.next_attempt_at, now),
    )


async def _claim(session: AsyncSession, now: datetime | None, limit: int) -> list[Outgoing]:
    """Move each due event's ``next_attempt_at`` past the lease (the database's clock): that value is the
    claim, and the write recording the result names it, so a claim that ran out records nothing."""
    ids = list(
        await session.scalars(
            select(AnalyticsEvent.id).where(_due(now)).order_by(AnalyticsEvent.occurred_at).limit(limit)
        )
    )
    if not ids:
        return []
    claimed = await session.execute(
        update(AnalyticsEvent)
        .where(AnalyticsEvent.id.in_(ids), _due(now))
        .values(next_attempt_at=database_now(RETRY.lease))
        .returning(AnalyticsEvent.id, AnalyticsEvent.next_attempt_at)
    )
    held = {row.id: row.next_attempt_at for row in claimed}
    mine = set(held)
    rows = await session.scalars(
        select(AnalyticsEvent).where(AnalyticsEvent.id.in_(mine)).order_by(AnalyticsEvent.occurred_at)
    )
    return [
        Outgoing(
            row.id, row.name, row.organization_id, row.user_id, row.properties, row.occurred_at, held[row.id]
        )
        for row in rows
    ]


async def _record(session: AsyncSession, event: Outgoing, error: str | None, now: datetime) -> None:
    values: dict[str, Any] = {"delivery_attempts": AnalyticsEvent.delivery_attempts + 1}
    if error is None:
        values |= {"delivered_at": now, "delivery_error": None, "next_attempt_at": None}
    else:
        current = await session.scalar(
            select(AnalyticsEvent.delivery_attempts).where(AnalyticsEvent.id == event.id)
        )
        values |= {"delivery_error": error, "next_attempt_at": database_now(RETRY.delay((current or 0) + 1))}
    await session.execute(
        update(AnalyticsEvent)
        .where(AnalyticsEvent.id == event.id, AnalyticsEvent.next_attempt_at == event.claimed_until)
        .values(**values)
    )


async def deliver_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    sink: SegmentSink,
    *,
    now: datetime | None = None,
    limit: int = BATCH,
) -> int:
    """Send what is due; returns how many events Segment accepted."""
    async with sessionmaker() as session, session.begin():
        events = await _claim(session, now, limit)
    if not events:
        return 0
    results = await asyncio.to_thread(sink.send_all, events)
    async with sessionmaker() as session, session.begin():
        for event, error in zip(events, results, strict=True):
            await _record(session, event, error, utcnow())
    failures = [error for error in results if error is not None]
    if failures:
        log.warning("analytics_delivery_failed", failed=len(failures), error=failures[0])
    return len(events) - len(failures)


async def deliver_analytics(runtime: Runtime) -> int:
    """The worker job: nothing to do unless ``QUALIFICA_SEGMENT_WRITE_KEY`` is set."""
    key = runtime.settings.segment_write_key
    if key is None or not key.get_secret_value().strip():
        return 0
    return await deliver_pending(runtime.sessionmaker, SegmentSink(key.get_secret_value(), host=SEGMENT_HOST))


JOB = Job("analytics.deliver", deliver_analytics, interval=1.0)
