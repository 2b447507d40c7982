"""``assistant.push``: every event is POSTed to ``QUALIFICA_ASSISTANT_WEBHOOK_URL`` (ARCHITECTURE §15).

Signed per the Standard Webhooks specification (the ``standardwebhooks`` library): ``webhook-id`` is the
event's id (the receiver deduplicates by it), ``webhook-timestamp`` and ``webhook-signature``. Delivered in
order per organization: one runner holds an organization at a time (a lease on its event counter row), sends
its oldest unpushed events one by one, and stops at the first failure — that organization waits its backoff
(5 s doubling to 30 min, never giving up: the events stay until a 2xx), the others go on. At least once: an
event acknowledged but not recorded (a crash between the two) is sent again with the same ``webhook-id``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import ColumnElement, exists, select, update
from standardwebhooks.webhooks import Webhook

from qualifica.assistant.event_feed import event_of
from qualifica.db import utcnow
from qualifica.jobs.leases import (
    RetryPolicy,
    compare_and_set,
    database_now,
    lease_free,
    new_holder,
    not_before,
    spread,
)
from qualifica.jobs.runner import Job
from qualifica.logging import get_logger
from qualifica.observability import assistant_metrics
from qualifica.runtime import Runtime
from qualifica.whatsapp.events import AssistantEvent, EventCounter

log = get_logger(__name__)
RETRY = RetryPolicy.seconds(lease=120, first_delay=5, max_delay=1800, max_attempts=1_000_000)
BATCH = 50  # events per organization per round
ORGANIZATIONS = 10  # organizations per round
TIMEOUT_SECONDS = 10.0


def _pending() -> ColumnElement[bool]:
    return exists().where(
        AssistantEvent.organization_id == EventCounter.organization_id, AssistantEvent.pushed_at.is_(None)
    )


async def _claim(runtime: Runtime) -> list[tuple[uuid.UUID, str]]:
    """Organizations with events to push, nobody pushing them and their backoff over."""
    due = (
        _pending(),
        lease_free(EventCounter.lease_expires_at),
        not_before(EventCounter.push_next_at),
    )
    claimed: list[tuple[uuid.UUID, str]] = []
    async with runtime.sessionmaker() as session, session.begin():
        candidates = spread(select(EventCounter.organization_id).where(*due).limit(ORGANIZATIONS), runtime)
        for organization_id in list(await session.scalars(candidates)):
            holder = new_holder(runtime.owner)
            claim = (
                update(EventCounter)
                .where(EventCounter.organization_id == organization_id, *due)
                .values(lease_owner=holder, lease_expires_at=database_now(RETRY.lease))
            )
            if await compare_and_set(session, claim):
                claimed.append((organization_id, holder))
    return claimed


async def _push_organization(
    runtime: Runtime,
    http: httpx.AsyncClient,
    webhook: Webhook,
    url: str,
    organization_id: uuid.UUID,
    holder: str,
) -> int:
    async with runtime.sessionmaker() as session:
        events = list(
            await session.scalars(
                select(AssistantEvent)
                .where(AssistantEvent.organization_id == organization_id, AssistantEvent.pushed_at.is_(None))
                .order_by(AssistantEvent.seq)
                .limit(BATCH)
            )
        )
    pushed, error = 0, None
    for event in events:
        body = event_of(event).model_dump_json()
        now = utcnow()
        headers = {
            "content-type": "application/json",
            "webhook-id": str(event.id),
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": webhook.sign(str(event.id), now, body),
        }
        try:
            answer = await http.post(url, content=body, headers=headers)
        except httpx.HTTPError as failure:
            error = type(failure).__name__
        else:
            error = None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"
        if error is not None:
            assistant_metrics.pushed("failed")
            break
        assistant_metrics.pushed("delivered")
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(AssistantEvent).where(AssistantEvent.id == event.id).values(pushed_at=utcnow())
            )
        pushed += 1
    await _release(runtime, organization_id, holder, error)
    if error is not None:
        log.warning("assistant.push_failed", organization_id=str(organization_id), error=error, pushed=pushed)
    return pushed


async def _release(runtime: Runtime, organization_id: uuid.UUID, holder: str, error: str | None) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        attempts = await session.scalar(
            select(EventCounter.push_attempts).where(EventCounter.organization_id == organization_id)
        )
        values: dict[str, Any]
        if error is None:
            values = {"push_attempts": 0, "push_next_at": None, "push_error": None}
        else:
            failures = (attempts or 0) + 1
            delay: timedelta = RETRY.delay(failures)
            values = {"push_attempts": failures, "push_next_at": database_now(delay), "push_error": error}
        await session.execute(
            update(EventCounter)
            .where(EventCounter.organization_id == organization_id, EventCounter.lease_owner == holder)
            .values(lease_owner=None, lease_expires_at=None, **values)
        )


async def push_events(runtime: Runtime) -> int:
    """The worker job: nothing to do unless ``QUALIFICA_ASSISTANT_WEBHOOK_URL`` is set."""
    settings = runtime.settings
    if not settings.assistant_webhook_url or settings.assistant_webhook_secret is None:
        return 0
    claimed = await _claim(runtime)
    if not claimed:
        return 0
    webhook = Webhook(settings.assistant_webhook_secret.get_secret_value())
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as http:
        done = 0
        for organization_id, holder in claimed:
            done += await _push_organization(
                runtime, http, webhook, settings.assistant_webhook_url, organization_id, holder
            )
    return done


JOB = Job("assistant.push", push_events, interval=0.1)
