"""Sending a message through an organization's connection (ARCHITECTURE §15).

A send is refused before anything is written (``AppError``) when the key was used for another body, the
connection is not active, free text goes to a lead outside the 24 h window, or the number's queue is full.
Otherwise one ``assistant_messages`` row records it, and the call goes one of two ways:

- **inline**: the number has nothing queued, so the row is held under a lease (the worker leaves it alone),
  the number's next throughput slot is claimed (``throughput``), and Meta is called once. Meta accepted →
  200 ``sent``; Meta refused for good (131047, 131026, a template error…) → the row is ``failed`` and the
  answer says why; Meta slow, unavailable or rate-limiting → the row is ``queued`` and the answer is 202.
- **queued**: something older waits for the same number (order per number), or no slot is free soon
  enough; the row is ``queued`` and the worker (``assistant.send``, ``queue.py``) sends it.

Transactions are short and never span the Meta call. The first answer is stored on the row and replayed to
a request with the same ``Idempotency-Key`` and body. The token is unsealed only to call Meta.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.assistant.errors import (
    IdempotencyKeyReused,
    InvalidRecipient,
    NotConnected,
    OutsideServiceWindow,
    SendMetaError,
    SendRateLimited,
)
from qualifica.assistant.models import MessageStatus, OutboundMessage
from qualifica.assistant.outbound import with_status
from qualifica.assistant.schemas import QueuedAnswer, SendRequest, SentAnswer
from qualifica.assistant.send_errors import (
    INVALID_RECIPIENT,
    OUTSIDE_WINDOW,
    TRANSIENT_META_CODES,
    SendError,
    explain_meta_code,
)
from qualifica.assistant.throughput import take_slot
from qualifica.assistant.window import last_inbound, window_open
from qualifica.db import utcnow
from qualifica.errors import AppError, InvalidRequest
from qualifica.jobs.leases import compare_and_set, database_now, new_holder
from qualifica.logging import get_logger
from qualifica.meta.errors import MetaError
from qualifica.observability import assistant_metrics
from qualifica.observability.assistant_metrics import SendOutcome
from qualifica.runtime import Runtime
from qualifica.security.crypto import unseal
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection

log = get_logger(__name__)
# The longest an API call waits for the number's next slot before it queues the message instead.
INLINE_SLOT_WAIT_SECONDS = 0.5
# An inline send's hold on its row: it outlasts the Meta call, so the worker never sends it twice.
INLINE_LEASE_SECONDS = 60.0
# After a failed inline try, the worker's first try waits at least this long (Meta's own wait if it said).
INLINE_RETRY_SECONDS = 1.0
COEXISTENCE_RATE = 20.0  # messages/s of a WhatsApp Business app number (reference 2026 §5.3)
COEXISTENCE_EVENT = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
TEMPLATE_CODES = range(132000, 133000)


@dataclass(frozen=True)
class SendAnswer:
    """What the API answers: a status code, a JSON body, and headers (``Retry-After``)."""

    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """The number a message leaves from, its token (in memory only) and its throughput."""

    phone_number_id: str
    token: str = field(repr=False)
    rate: float


@dataclass(frozen=True)
class Result:
    """How one Meta call ended for a message: sent, failed for good, or to be retried."""

    status: MessageStatus  # SENT, FAILED, or QUEUED (retry)
    wamid: str | None = None
    error: SendError | None = None
    answer: AppError | None = None  # the API's answer for a failure
    retry_after: float | None = None


def queued_answer(message_id: uuid.UUID) -> SendAnswer:
    return SendAnswer(202, QueuedAnswer(id=message_id).model_dump(mode="json"))


def sent_answer(message_id: uuid.UUID, wamid: str) -> SendAnswer:
    return SendAnswer(200, SentAnswer(id=message_id, wamid=wamid).model_dump(mode="json"))


def failure_answer(error: AppError) -> SendAnswer:
    return SendAnswer(error.status, error.body(), error.headers)


def rate_of(settings_rate: float, connection: WhatsAppConnection) -> float:
    coexistence = connection.signup_event == COEXISTENCE_EVENT
    return min(settings_rate, COEXISTENCE_RATE) if coexistence else settings_rate


def target_of(runtime: Runtime, connection: WhatsAppConnection) -> Target:
    token = unseal(runtime.ring, connection, "access_token")
    if token is None:
        raise NotConnected
    return Target(
        connection.phone_number_id, token, rate_of(runtime.settings.assistant_send_rate, connection)
    )


async def active_connection(session: AsyncSession, organization_id: uuid.UUID) -> WhatsAppConnection:
    connection = await session.scalar(
        select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
    )
    if connection is None or connection.status is not ConnectionStatus.ACTIVE or not connection.access_token:
        raise NotConnected
    return connection


def classify(error: MetaError) -> Result:
    """A failed Meta call: retried later (slow, unavailable, rate-limited) or failed for good, explained."""
    if error.transient or error.is_rate_limit or error.code in TRANSIENT_META_CODES:
        return Result(MessageStatus.QUEUED, retry_after=error.retry_after)
    explained = explain_meta_code(error.code)
    extra = {"meta_code": error.code} if error.code is not None else {}
    answer: AppError
    if explained is OUTSIDE_WINDOW:
        answer = OutsideServiceWindow()
    elif explained is INVALID_RECIPIENT:
        answer = InvalidRecipient()
    elif error.code in TEMPLATE_CODES:
        answer = InvalidRequest(explained.message, extra=extra)
    elif explained.code == "not_connected":
        answer = NotConnected(explained.message)
    else:
        answer = SendMetaError(explained.message, extra=extra)
    return Result(MessageStatus.FAILED, error=explained, answer=answer)


async def call_meta(runtime: Runtime, target: Target, body: dict[str, Any], *, budget: float) -> Result:
    try:
        sent = await runtime.graph.send_message(
            target.phone_number_id, body, token=target.token, budget=budget
        )
    except MetaError as error:
        return classify(error)
    return Result(MessageStatus.SENT, wamid=sent.wamid)


# -- the API's send ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Opened:
    message_id: uuid.UUID
    holder: str | None  # set: send inline under this lease; None: queued for the worker
    target: Target
    body: dict[str, Any]
    wait: float  # seconds until the number's slot (inline sends)


async def send(
    runtime: Runtime,
    *,
    organization_id: uuid.UUID,
    request: SendRequest,
    idempotency_key: str | None,
    source: str = "api",
) -> SendAnswer:
    """Send ``request`` for the organization; see the module's description for the ways it goes."""
    try:
        opened = await _open(runtime, organization_id, request, idempotency_key, source)
    except IntegrityError:  # the same Idempotency-Key raced in from another request: answer as it did
        opened = await _open(runtime, organization_id, request, idempotency_key, source)
    except AppError as refusal:
        assistant_metrics.refused(refusal.code)
        raise
    if isinstance(opened, SendAnswer):
        return opened
    if opened.holder is None:
        assistant_metrics.tried("inline", SendOutcome.QUEUED)
        return queued_answer(opened.message_id)
    return await _send_inline(runtime, opened, opened.holder)


async def _open(
    runtime: Runtime,
    organization_id: uuid.UUID,
    request: SendRequest,
    idempotency_key: str | None,
    source: str,
) -> Opened | SendAnswer:
    digest = request.digest(organization_id)
    now = utcnow()
    async with runtime.sessionmaker() as session, session.begin():
        if idempotency_key is not None:
            earlier = await session.scalar(
                select(OutboundMessage).where(
                    OutboundMessage.organization_id == organization_id,
                    OutboundMessage.idempotency_key == idempotency_key,
                )
            )
            if earlier is not None:
                if earlier.request_digest != digest:
                    raise IdempotencyKeyReused
                if earlier.response_status is None or earlier.response is None:
                    return queued_answer(earlier.id)  # the first request is still talking to Meta
                return SendAnswer(earlier.response_status, dict(earlier.response))
        connection = await active_connection(session, organization_id)
        phone_number_id = connection.phone_number_id
        if request.type == "text":
            last = await last_inbound(
                session,
                organization_id=organization_id,
                phone_number_id=phone_number_id,
                wa_id=request.recipient,
            )
            if not window_open(last, now):
                raise OutsideServiceWindow
        target = target_of(runtime, connection)
        # Queued for the worker (not other calls' inline sends in flight: those go side by side).
        waiting = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(
                OutboundMessage.phone_number_id == phone_number_id,
                OutboundMessage.status == MessageStatus.QUEUED,
                OutboundMessage.queued_at.is_not(None),
            )
        )
        waiting = int(waiting or 0)
        if waiting >= runtime.settings.assistant_queue_limit:
            retry_after = max(1, math.ceil(waiting / target.rate))
            raise SendRateLimited(headers={"Retry-After": str(retry_after)})
        body = request.meta_body()
        message = OutboundMessage(
            organization_id=organization_id,
            phone_number_id=phone_number_id,
            recipient=request.recipient,
            kind=request.type,
            body=body,
            idempotency_key=idempotency_key,
            request_digest=digest,
            source=source,
            status=MessageStatus.QUEUED,
            history=[],
            created_at=now,
        )
        holder: str | None = None
        wait: float | None = None
        if not waiting:  # nothing older waits: send it now if the number's throughput allows it soon
            rate, phone = target.rate, phone_number_id
            wait = await take_slot(session, phone, rate=rate, max_wait=INLINE_SLOT_WAIT_SECONDS)
        if wait is None:  # older messages of this number go first, or its throughput is taken for now
            message.history = with_status([], MessageStatus.QUEUED, now)
            message.queued_at = now
        else:
            holder = new_holder(runtime.owner)
            message.lease_owner = holder
            message.lease_expires_at = database_now(timedelta(seconds=INLINE_LEASE_SECONDS))
        session.add(message)
        await session.flush()
        if holder is None:
            message.response_status, message.response = 202, queued_answer(message.id).body
        return Opened(message.id, holder, target, body, wait or 0.0)


async def _send_inline(runtime: Runtime, opened: Opened, holder: str) -> SendAnswer:
    started = time.perf_counter()
    if opened.wait:
        await asyncio.sleep(opened.wait)
    result = await call_meta(
        runtime, opened.target, opened.body, budget=runtime.settings.assistant_send_timeout_seconds
    )
    if result.status is MessageStatus.SENT:
        answer = await settle_sent(runtime, opened.message_id, holder, result)
    else:
        retry_at = database_now(timedelta(seconds=max(result.retry_after or 0.0, INLINE_RETRY_SECONDS)))
        answer = await settle(runtime, opened.message_id, holder, result, attempts=1, retry_at=retry_at)
    outcome = {
        MessageStatus.SENT: SendOutcome.SENT,
        MessageStatus.QUEUED: SendOutcome.QUEUED,
    }.get(result.status, SendOutcome.FAILED)
    assistant_metrics.tried("inline", outcome, time.perf_counter() - started)
    if answer is None:  # the lease ran out while Meta answered: the worker owns the row now
        return queued_answer(opened.message_id)
    return answer


async def settle_sent(
    runtime: Runtime, message_id: uuid.UUID, holder: str, result: Result
) -> SendAnswer | None:
    """An inline send Meta accepted, in one UPDATE (the row is ours and fresh: no history, no answer yet)."""
    assert result.wamid is not None
    now = utcnow()
    answer = sent_answer(message_id, result.wamid)
    async with runtime.sessionmaker() as session, session.begin():
        won = await compare_and_set(
            session,
            update(OutboundMessage)
            .where(
                OutboundMessage.id == message_id,
                OutboundMessage.lease_owner == holder,
                OutboundMessage.response_status.is_(None),
            )
            .values(
                lease_owner=None,
                lease_expires_at=None,
                status=MessageStatus.SENT,
                wamid=result.wamid,
                sent_at=now,
                attempts=1,
                body=None,
                error=None,
                history=with_status([], MessageStatus.SENT, now),
                response_status=answer.status_code,
                response=answer.body,
                updated_at=now,
            ),
        )
    return answer if won else None


async def settle(
    runtime: Runtime,
    message_id: uuid.UUID,
    holder: str,
    result: Result,
    *,
    attempts: int,
    retry_at: Any = None,
    gave_up: SendError | None = None,
) -> SendAnswer | None:
    """Write how a send ended, naming the claim (``holder``); None when the lease was lost.

    ``attempts``: the tries made so far, this one included; ``retry_at``: when to try again after a
    retryable failure (None: at once); ``gave_up``: the retryable failure ends the message (out of tries).
    """
    now = utcnow()
    async with runtime.sessionmaker() as session, session.begin():
        message = await session.get(OutboundMessage, message_id)
        if message is None or message.lease_owner != holder:
            return None
        history = list(message.history or [])
        released: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
        answer: SendAnswer | None
        if result.status is MessageStatus.SENT:
            assert result.wamid is not None
            values = {
                "status": MessageStatus.SENT,
                "wamid": result.wamid,
                "sent_at": now,
                "attempts": attempts,
                "body": None,
                "error": None,
                "history": with_status(history, MessageStatus.SENT, now),
            }
            answer = sent_answer(message_id, result.wamid)
        elif result.status is MessageStatus.QUEUED and gave_up is None:
            values = {
                "status": MessageStatus.QUEUED,
                "attempts": attempts,
                "next_attempt_at": retry_at,
                "queued_at": message.queued_at or now,
                "error": "retry",
                "history": with_status(history, MessageStatus.QUEUED, now),
            }
            answer = queued_answer(message_id)
        else:
            explained = gave_up or result.error
            assert explained is not None
            values = {
                "status": MessageStatus.FAILED,
                "body": None,
                "error_code": explained.code,
                "error_message": explained.message,
                "error": explained.code,
                "attempts": attempts,
                "history": with_status(history, MessageStatus.FAILED, now),
            }
            failure = result.answer or SendMetaError(explained.message)
            answer = failure_answer(failure)
        if message.response_status is None:
            values |= {"response_status": answer.status_code, "response": answer.body}
        won = await compare_and_set(
            session,
            update(OutboundMessage)
            .where(OutboundMessage.id == message_id, OutboundMessage.lease_owner == holder)
            .values(**released, **values),
        )
    return answer if won else None
