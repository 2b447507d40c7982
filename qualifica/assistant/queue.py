"""``assistant.send``: the worker sends queued messages, in order per number, with retries.

Each round reads the oldest queued messages of every number (up to ``PER_NUMBER``) and claims them oldest
first, each with a lease of its own (holder token, database clock), stopping at the first it cannot take
(held by a request sending it, or waiting out its backoff): a later message never goes before an earlier
one that still waits. A message that failed before goes alone. The claimed ones take the number's
throughput slots in order and go out side by side, each settled naming its claim as the API's inline
sends are (``sending.settle``). So a backlog drains at the number's throughput, not one Meta round trip at
a time; Meta itself does not promise to deliver concurrent sends in order, so order holds for dispatch.
Meta slow, unavailable or rate-limiting → tried again after ``RETRY``'s growing pause (or Meta's own
wait, when it says), the messages behind it waiting; out of tries → ``failed`` with the reason.

The one window for a duplicate: Meta accepted the message and the process died before recording it (or
the answer was lost on the way); the lease then runs out and the message is sent again. Meta has no
idempotency key to prevent it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from qualifica.assistant.models import MessageStatus, OutboundMessage
from qualifica.assistant.send_errors import GAVE_UP, NOT_CONNECTED
from qualifica.assistant.sending import Result, Target, call_meta, settle, target_of
from qualifica.assistant.throughput import claim_slot
from qualifica.jobs.leases import (
    RetryPolicy,
    database_now,
    lease_free,
    new_holder,
    not_before,
)
from qualifica.jobs.runner import Job
from qualifica.logging import get_logger
from qualifica.observability import assistant_metrics
from qualifica.observability.assistant_metrics import SendOutcome
from qualifica.runtime import Runtime
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection

log = get_logger(__name__)
BATCH = 50  # numbers per round at most
PER_NUMBER = 50  # messages of one number per round at most (dispatched in order through its slots)
# 2 s, 4 s, 8 s … capped at 5 min: 16 tries, about 50 minutes, before a message is given up.
RETRY = RetryPolicy.seconds(lease=60, first_delay=2, max_delay=300, max_attempts=16)
SLOT_WAIT_SECONDS = 5.0  # a worker may wait longer than a request for the number's slot
META_BUDGET_SECONDS = 10.0


async def _heads(runtime: Runtime) -> dict[str, list[tuple[uuid.UUID, int]]]:
    """The oldest queued messages of each number (due or not: the claims decide), with their tries."""
    position = (
        func.row_number()
        .over(
            partition_by=OutboundMessage.phone_number_id,
            order_by=(OutboundMessage.created_at, OutboundMessage.id),
        )
        .label("position")
    )
    queued = (
        select(OutboundMessage.id, OutboundMessage.phone_number_id, OutboundMessage.attempts, position)
        .where(OutboundMessage.status == MessageStatus.QUEUED)
        .subquery()
    )
    statement = (
        select(queued.c.id, queued.c.phone_number_id, queued.c.attempts)
        .where(queued.c.position <= PER_NUMBER)
        .order_by(queued.c.phone_number_id, queued.c.position)
        .limit(BATCH * PER_NUMBER)
    )
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    heads: dict[str, list[tuple[uuid.UUID, int]]] = {}
    for message_id, phone_number_id, attempts in rows:
        heads.setdefault(phone_number_id, []).append((message_id, attempts))
    return heads


async def _claim(runtime: Runtime, ids: list[uuid.UUID], now: datetime | None) -> tuple[str, list[uuid.UUID]]:
    """Claim ``ids`` (a number's queue, oldest first) in one statement; keep the longest run from the oldest
    that was free and due, and let go of the rest (they would overtake one that waits)."""
    holder = new_holder(runtime.owner)
    async with runtime.sessionmaker() as session, session.begin():
        won = set(
            await session.scalars(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id.in_(ids),
                    OutboundMessage.status == MessageStatus.QUEUED,
                    lease_free(OutboundMessage.lease_expires_at, now),
                    not_before(OutboundMessage.next_attempt_at, now),
                )
                .values(lease_owner=holder, lease_expires_at=database_now(RETRY.lease))
                .returning(OutboundMessage.id)
            )
        )
        run = list(itertools.takewhile(won.__contains__, ids))
        extra = won - set(run)
        if extra:
            await session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id.in_(extra), OutboundMessage.lease_owner == holder)
                .values(lease_owner=None, lease_expires_at=None)
            )
    return holder, run


@dataclass(frozen=True)
class Claimed:
    message_id: uuid.UUID
    attempts: int
    body: dict[str, Any]
    target: Target | None  # None: its organization's connection no longer sends from this number


async def _load(runtime: Runtime, ids: list[uuid.UUID]) -> list[Claimed]:
    async with runtime.sessionmaker() as session:
        messages = {
            m.id: m for m in await session.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(ids)))
        }
        organizations = {m.organization_id for m in messages.values()}
        connections = {
            c.organization_id: c
            for c in await session.scalars(
                select(WhatsAppConnection).where(WhatsAppConnection.organization_id.in_(organizations))
            )
        }
    claimed = []
    for message_id in ids:
        message = messages[message_id]
        connection = connections.get(message.organization_id)
        usable = (
            connection is not None
            and connection.status is ConnectionStatus.ACTIVE
            and connection.phone_number_id == message.phone_number_id
            and connection.access_token is not None
            and bool(message.body)
        )
        target = target_of(runtime, connection) if connection is not None and usable else None
        claimed.append(Claimed(message_id, message.attempts, dict(message.body or {}), target))
    return claimed


async def _send_number(runtime: Runtime, queue: list[tuple[uuid.UUID, int]], now: datetime | None) -> int:
    """A number's queue, in order: a message that failed before goes alone; otherwise the oldest ones up to
    the next such message go out side by side, dispatched in order through the number's slots."""
    ids = [message_id for message_id, _ in queue]
    first_retry = next((i for i, (_, attempts) in enumerate(queue) if attempts), None)
    ids = ids[:1] if first_retry == 0 else ids[:first_retry]
    holder, run = await _claim(runtime, ids, now)
    if not run:
        return 0
    claimed = await _load(runtime, run)
    sendable = [item for item in claimed if item.target is not None]
    for item in claimed:
        if item.target is None:
            failed = Result(MessageStatus.FAILED, error=NOT_CONNECTED)
            await settle(runtime, item.message_id, holder, failed, attempts=item.attempts)
            assistant_metrics.tried("worker", SendOutcome.FAILED)
    if not sendable:
        return len(claimed)
    target = sendable[0].target
    assert target is not None
    start = await claim_slot(
        runtime.sessionmaker,
        target.phone_number_id,
        rate=target.rate,
        max_wait=SLOT_WAIT_SECONDS,
        count=len(sendable),
    )
    done = await asyncio.gather(
        *(
            _send_one(runtime, item, holder, None if start is None else start + position / target.rate)
            for position, item in enumerate(sendable)
        )
    )
    return sum(done) + len(claimed) - len(sendable)


async def _send_one(runtime: Runtime, item: Claimed, holder: str, wait: float | None) -> int:
    message_id, attempts, target = item.message_id, item.attempts, item.target
    assert target is not None
    if wait is None:  # the number's throughput is taken for now: not a failed try
        await settle(runtime, message_id, holder, Result(MessageStatus.QUEUED), attempts=attempts)
        return 0
    started = time.perf_counter()
    await asyncio.sleep(wait)
    result = await call_meta(runtime, target, item.body, budget=META_BUDGET_SECONDS)
    tried = attempts + 1
    if result.status is MessageStatus.QUEUED:
        if RETRY.exhausted(tried):
            outcome = SendOutcome.FAILED
            await settle(runtime, message_id, holder, result, attempts=tried, gave_up=GAVE_UP)
        else:
            outcome = SendOutcome.RETRY
            pause = max(RETRY.delay(tried), timedelta(seconds=result.retry_after or 0.0))
            await settle(runtime, message_id, holder, result, attempts=tried, retry_at=database_now(pause))
    else:
        outcome = SendOutcome.SENT if result.status is MessageStatus.SENT else SendOutcome.FAILED
        await settle(runtime, message_id, holder, result, attempts=tried)
    assistant_metrics.tried("worker", outcome, time.perf_counter() - started)
    log.info(
        "assistant.message_sent_by_worker", message_id=str(message_id), outcome=outcome.value, attempt=tried
    )
    return 1


async def send_queued(runtime: Runtime, *, now: datetime | None = None) -> int:
    """The due queued messages of every number; returns how many were settled or retried."""
    heads = await _heads(runtime)
    done = await asyncio.gather(*(_send_number(runtime, queue, now) for queue in heads.values()))
    return sum(done)


JOBS = (Job("assistant.send", send_queued, interval=0.5),)
