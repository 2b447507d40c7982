"""The ``webhook.process`` job: split stored bodies into changes, then route each change under a lease.

Splitting is one transaction per batch whose first statement claims the bodies (``processed_at`` set by a
conditional UPDATE), so two workers never split the same body and a crash splits nothing. A change is
claimed with a lease (compare-and-set; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), handled, and marked
settled in the handler's own transaction, guarded by still holding the lease: its effects and its
``processed_at`` commit together, exactly once. A failure releases the lease with a backoff and is retried;
after ``RETRY.max_attempts`` the change is settled as ``failed`` (kept, visible, counted).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError

from qualifica.db import utcnow
from qualifica.jobs.leases import (
    LeaseLost,
    RetryPolicy,
    compare_and_set,
    database_now,
    lease_free,
    new_holder,
    not_before,
    spread,
    write_holding,
)
from qualifica.logging import get_logger
from qualifica.observability import webhook_metrics
from qualifica.observability.webhook_metrics import WebhookOutcome
from qualifica.runtime import Runtime
from qualifica.webhooks import payload
from qualifica.webhooks.handlers import handler_for
from qualifica.webhooks.models import WebhookChange, WebhookEvent
from qualifica.webhooks.routing import Context, find_connection

log = get_logger(__name__)
BATCH = 50
MALFORMED = "malformed"  # a body that is not JSON, or that the database refused: kept, never retried
# 2 s, 4 s, 8 s … capped at an hour; after 10 attempts the change is settled as failed.
RETRY = RetryPolicy.seconds(lease=30, first_delay=2, max_delay=3600, max_attempts=10)


async def process_webhooks(runtime: Runtime, *, now: datetime | None = None) -> int:
    """One round: split what arrived, then handle a batch of what is due; returns bodies split + changes
    settled or retried (the runner runs another round at once while this is not zero)."""
    split = await split_pending(runtime)
    claim = await claim_due(runtime, now=now)
    handled = [await handle(runtime, change_id, holder=claim.holder) for change_id in claim.ids]
    return split + len(handled)


async def split_pending(runtime: Runtime, *, limit: int = BATCH) -> int:
    """Split up to ``limit`` stored bodies in one transaction. When the database refuses the batch, split
    them one by one: a body that fails alone is marked ``malformed``, and the others go on this round."""
    try:
        return await _split(runtime, _pending(runtime, limit))
    except _UNAVAILABLE:
        raise  # the database itself: nothing is wrong with the bodies
    except Exception as error:
        # Never the message: the database quotes the refused value (a lead's words) in it.
        log.warning("webhook.split_batch_failed", error_type=type(error).__name__)
    async with runtime.sessionmaker() as session:
        ids = list(await session.scalars(_pending(runtime, limit)))
    split = 0
    for event_id in ids:
        try:
            split += await _split(runtime, select(WebhookEvent.id).where(WebhookEvent.id == event_id))
        except _UNAVAILABLE:
            raise
        except Exception as error:
            split += await _set_aside(runtime, event_id, error)
    return split


# Failures of the connection, not of a body: the batch is tried again next round, nothing is set aside.
_UNAVAILABLE = (OperationalError, InterfaceError, OSError, TimeoutError)


def _pending(runtime: Runtime, limit: int) -> Select[uuid.UUID]:
    pending = select(WebhookEvent.id).where(WebhookEvent.processed_at.is_(None))
    return spread(pending.order_by(WebhookEvent.received_at).limit(limit), runtime)


async def _split(runtime: Runtime, pending: Select[uuid.UUID]) -> int:
    async with runtime.sessionmaker.begin() as session:
        claimed = await session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_(pending.scalar_subquery()), WebhookEvent.processed_at.is_(None))
            .values(processed_at=utcnow())
            .returning(WebhookEvent.id, WebhookEvent.payload, WebhookEvent.received_at)
        )
        rows = claimed.all()
        malformed = 0
        for row in rows:
            changes = _read(row.payload)
            malformed += changes is None
            summary = payload.summarize(changes or [])
            session.add_all(
                WebhookChange(
                    event_id=row.id,
                    position=change.position,
                    field=change.field,
                    entry_id=change.entry_id,
                    waba_id=change.waba_id,
                    occurred_at=change.occurred_at,
                    value=change.value,
                    received_at=row.received_at,
                    attempts=0,
                )
                for change in changes or []
            )
            await session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id == row.id)
                .values(
                    outcome="split" if changes is not None else MALFORMED,
                    field=summary.field,
                    waba_id=summary.waba_id,
                    error=None if changes is not None else "the body is not JSON",
                )
            )
    for _ in range(malformed):  # counted once committed
        webhook_metrics.event(field=None, outcome=WebhookOutcome.FAILED)
    return len(rows)


async def _set_aside(runtime: Runtime, event_id: uuid.UUID, error: Exception) -> int:
    """Mark a body the database refused as ``malformed`` (kept for inspection, never retried)."""
    async with runtime.sessionmaker.begin() as session:
        marked = await compare_and_set(
            session,
            update(WebhookEvent)
            .where(WebhookEvent.id == event_id, WebhookEvent.processed_at.is_(None))
            .values(
                processed_at=utcnow(),
                outcome=MALFORMED,
                error=f"the database refused the body ({type(error).__name__})",
            ),
        )
    if marked:
        webhook_metrics.event(field=None, outcome=WebhookOutcome.FAILED)
        log.warning("webhook.malformed", event_id=str(event_id), error_type=type(error).__name__)
    return int(marked)


def _read(stored: str) -> list[payload.Change] | None:
    try:
        return payload.split(payload.load(stored))
    except (ValueError, RecursionError):
        return None


@dataclass(frozen=True)
class Claim:
    """The changes one claim took, and its holder token (every write settling them names it)."""

    holder: str
    ids: list[uuid.UUID]


def _due(now: datetime | None) -> ColumnElement[bool]:
    return and_(
        WebhookChange.processed_at.is_(None),
        not_before(WebhookChange.next_attempt_at, now),
        lease_free(WebhookChange.lease_expires_at, now),
    )


async def claim_due(runtime: Runtime, *, now: datetime | None = None, limit: int = BATCH) -> Claim:
    """Take the lease of up to ``limit`` due changes, oldest first; a single compare-and-set statement.

    Due and expired are judged by the database's clock (``now`` only when a test passes one).
    """
    holder = new_holder(runtime.owner)
    due = select(WebhookChange.id).where(_due(now))
    due = spread(due.order_by(WebhookChange.received_at, WebhookChange.position).limit(limit), runtime)
    async with runtime.sessionmaker.begin() as session:
        result = await session.execute(
            update(WebhookChange)
            .where(WebhookChange.id.in_(due.scalar_subquery()), _due(now))
            .values(
                lease_owner=holder,
                lease_expires_at=database_now(RETRY.lease),
                attempts=WebhookChange.attempts + 1,
            )
            .returning(WebhookChange.id, WebhookChange.received_at, WebhookChange.position)
        )
        rows = sorted(result.all(), key=lambda row: (row.received_at, row.position))
    return Claim(holder, [row.id for row in rows])


async def handle(runtime: Runtime, change_id: uuid.UUID, *, holder: str) -> WebhookOutcome:
    """Route and apply one leased change; its effects and its settled mark commit together."""
    try:
        async with runtime.sessionmaker.begin() as session:
            change = await session.get(WebhookChange, change_id, populate_existing=True)
            if change is None or change.lease_owner != holder:
                raise LeaseLost
            connection = await find_connection(session, change)
            if connection is not None:
                change.organization_id = connection.organization_id
                # Already locked in this transaction: a write only when the moment moves forward.
                last = connection.last_webhook_at
                if last is None or change.received_at > last:
                    connection.last_webhook_at = change.received_at
            handler = handler_for(change.field)
            outcome = await handler(Context(session, runtime, change, connection))
            await write_holding(
                session,
                update(WebhookChange)
                .where(WebhookChange.id == change_id, WebhookChange.lease_owner == holder)
                .values(
                    outcome=outcome.value,
                    organization_id=change.organization_id,
                    processed_at=utcnow(),
                    error=None,
                    lease_owner=None,
                    lease_expires_at=None,
                )
                .execution_options(synchronize_session=False),
            )
            field = change.field
    except LeaseLost:
        log.warning("webhook.lease_lost", change_id=str(change_id))
        return WebhookOutcome.FAILED
    except Exception as error:  # any failure of a handler is retried later, never lost
        await _failed(runtime, change_id, error, holder=holder)
        return WebhookOutcome.FAILED
    webhook_metrics.event(field=field, outcome=outcome)
    return outcome


async def _failed(runtime: Runtime, change_id: uuid.UUID, error: Exception, *, holder: str) -> None:
    now = utcnow()
    async with runtime.sessionmaker.begin() as session:
        change = await session.get(WebhookChange, change_id, populate_existing=True)
        if change is None or change.lease_owner != holder:
            return
        give_up = RETRY.exhausted(change.attempts)
        change.outcome = WebhookOutcome.FAILED.value if give_up else "retry"
        change.error = f"{type(error).__name__}: {error}"[:500]
        # the database's clock, as every due check reads it
        change.next_attempt_at = None if give_up else database_now(RETRY.delay(change.attempts))
        change.processed_at = now if give_up else None
        change.lease_owner = change.lease_expires_at = None
        field, attempts = change.field, change.attempts
    webhook_metrics.event(field=field, outcome=WebhookOutcome.FAILED)
    log.warning(
        "webhook.change_failed",
        change_id=str(change_id),
        field=field,
        attempts=attempts,
        gave_up=give_up,
        error_type=type(error).__name__,
    )
