"""``assistant.send``: the worker sends queued messages, in order per number, with retries.

Each round takes the head of every number's queue (its oldest queued message): a later message of a number
never goes before an earlier one, which also waits out its backoff first. A head is claimed with a lease of
its own (holder token, database clock), sent through the number's throughput slot, and settled naming the
claim, as the API's inline sends are (``sending.settle``). Meta slow, unavailable or rate-limiting → tried
again after ``RETRY``'s growing pause (or Meta's own wait, when it says); out of tries → ``failed`` with the
reason. Numbers are sent side by side; one number's messages one at a time.

The one window for a duplicate: Meta accepted the message and the process died before recording it (or
the answer was lost on the way); the lease then runs out and the message is sent again. Meta has no
idempotency key to prevent it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update

from qualifica.assistant.models import MessageStatus, OutboundMessage
from qualifica.assistant.send_errors import GAVE_UP, NOT_CONNECTED
from qualifica.assistant.sending import Result, call_meta, settle, target_of
from qualifica.assistant.throughput import claim_slot
from qualifica.jobs.leases import (
    RetryPolicy,
    compare_and_set,
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
# 2 s, 4 s, 8 s … capped at 5 min: about an hour of tries before a message is given up.
RETRY = RetryPolicy.seconds(lease=60, first_delay=2, max_delay=300, max_attempts=16)
SLOT_WAIT_SECONDS = 5.0  # a worker may wait longer than a request for the number's slot
META_BUDGET_SECONDS = 10.0


async def _heads(runtime: Runtime) -> list[uuid.UUID]:
    """The oldest queued message of each number (due or not: the claim decides)."""
    queued = OutboundMessage.status == MessageStatus.QUEUED
    first = (
        select(OutboundMessage.phone_number_id, func.min(OutboundMessage.created_at).label("first"))
        .where(queued)
        .group_by(OutboundMessage.phone_number_id)
        .limit(BATCH)
        .subquery()
    )
    statement = (
        select(OutboundMessage.id, OutboundMessage.phone_number_id)
        .join(
            first,
            and_(
                OutboundMessage.phone_number_id == first.c.phone_number_id,
                OutboundMessage.created_at == first.c.first,
            ),
        )
        .where(queued)
        .order_by(OutboundMessage.created_at, OutboundMessage.id)
    )
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    heads: dict[str, uuid.UUID] = {}
    for message_id, phone_number_id in rows:
        heads.setdefault(phone_number_id, message_id)
    return list(heads.values())


async def _claim(runtime: Runtime, message_id: uuid.UUID, now: datetime | None) -> str | None:
    holder = new_holder(runtime.owner)
    async with runtime.sessionmaker() as session, session.begin():
        won = await compare_and_set(
            session,
            update(OutboundMessage)
            .where(
                OutboundMessage.id == message_id,
                OutboundMessage.status == MessageStatus.QUEUED,
                lease_free(OutboundMessage.lease_expires_at, now),
                not_before(OutboundMessage.next_attempt_at, now),
            )
            .values(lease_owner=holder, lease_expires_at=database_now(RETRY.lease)),
        )
    return holder if won else None


async def _send_one(runtime: Runtime, message_id: uuid.UUID, now: datetime | None) -> int:
    holder = await _claim(runtime, message_id, now)
    if holder is None:
        return 0
    started = time.perf_counter()
    async with runtime.sessionmaker() as session:
        message = await session.get(OutboundMessage, message_id)
        assert message is not None
        connection = await session.scalar(
            select(WhatsAppConnection).where(WhatsAppConnection.organization_id == message.organization_id)
        )
    attempts, body = message.attempts, dict(message.body or {})
    usable = (
        connection is not None
        and connection.status is ConnectionStatus.ACTIVE
        and connection.phone_number_id == message.phone_number_id
        and connection.access_token is not None
    )
    if connection is None or not usable or not body:
        await settle(
            runtime, message_id, holder, Result(MessageStatus.FAILED, error=NOT_CONNECTED), attempts=attempts
        )
        assistant_metrics.tried("worker", SendOutcome.FAILED)
        return 1
    target = target_of(runtime, connection)
    wait = await claim_slot(
        runtime.sessionmaker, target.phone_number_id, rate=target.rate, max_wait=SLOT_WAIT_SECONDS
    )
    if wait is None:  # the number's throughput is taken for now: not a failed try
        await settle(runtime, message_id, holder, Result(MessageStatus.QUEUED), attempts=attempts)
        return 0
    await asyncio.sleep(wait)
    result = await call_meta(runtime, target, body, budget=META_BUDGET_SECONDS)
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
    """One message per number whose queue head is due; returns how many were settled or retried."""
    heads = await _heads(runtime)
    done = await asyncio.gather(*(_send_one(runtime, message_id, now) for message_id in heads))
    return sum(done)


JOBS = (Job("assistant.send", send_queued, interval=0.5),)
