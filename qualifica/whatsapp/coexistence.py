"""The two one-shot syncs of a WhatsApp Business app number (``coexistence.sync``; ARCHITECTURE §14).

Right after a coexistence onboarding Meta shares the number's contacts and up to 180 days of chats, but
only when asked: ``POST /{phone_number_id}/smb_app_data`` with ``smb_app_state_sync`` and then ``history``,
each once, within 24 h (reference 2026 §6.1; errors 2593107 "asked twice", 2593108 "too late").
``outcomes.complete`` writes one pending row per sync; this job asks Meta, contacts first, and records
Meta's ``request_id``. What Meta then sends arrives by webhook (``webhooks/handlers/coexistence.py``).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased

from qualifica.db import utcnow
from qualifica.jobs.leases import RetryPolicy, compare_and_set, lease_free, not_before, spread
from qualifica.logging import get_logger
from qualifica.meta.errors import MetaError
from qualifica.runtime import Runtime
from qualifica.security.crypto import unseal
from qualifica.whatsapp.models import CoexistenceSync, SyncStatus, WhatsAppConnection

log = get_logger(__name__)
BATCH = 10
CALL_SECONDS = 15.0
# 30 s, 1 min … capped at 1 h, 8 tries: well inside Meta's 24 h window.
RETRY = RetryPolicy.seconds(lease=30, first_delay=30, max_delay=3600, max_attempts=8)
ALREADY_REQUESTED = 2593107  # Meta has it already: the sync is requested, not failed
WINDOW_CLOSED = 2593108


def _due(now: datetime) -> object:
    earlier = aliased(CoexistenceSync)
    return and_(
        CoexistenceSync.status == SyncStatus.PENDING,
        not_before(CoexistenceSync.next_attempt_at, now),
        lease_free(CoexistenceSync.lease_expires_at, now),
        # history waits until contacts were asked for (Meta's order, reference 2026 §6.1 step 4)
        ~exists().where(
            earlier.attempt_id == CoexistenceSync.attempt_id,
            earlier.position < CoexistenceSync.position,
            earlier.status == SyncStatus.PENDING,
        ),
    )


async def request_due_syncs(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Ask Meta for every due sync, in order; returns how many were settled or rescheduled."""
    done = 0
    for _ in range(len(SyncStatus) + 1):  # contacts, then the history that waited for it
        handled = 0
        for sync_id in await _claim(runtime, now or utcnow()):
            await _request(runtime, sync_id)
            handled += 1
        done += handled
        if not handled:
            break
    return done


async def _claim(runtime: Runtime, now: datetime) -> list[uuid.UUID]:
    query = (
        select(CoexistenceSync.id)
        .where(_due(now))  # type: ignore[arg-type]
        .order_by(CoexistenceSync.created_at, CoexistenceSync.position)
        .limit(BATCH)
    )
    async with runtime.sessionmaker() as session, session.begin():
        candidates = list((await session.scalars(spread(query, runtime))).all())
    claimed = []
    for sync_id in candidates:
        async with runtime.sessionmaker() as session, session.begin():
            if await compare_and_set(
                session,
                update(CoexistenceSync)
                .where(CoexistenceSync.id == sync_id, _due(now))  # type: ignore[arg-type]
                .values(
                    lease_owner=runtime.owner,
                    lease_expires_at=now + RETRY.lease,
                    attempts=CoexistenceSync.attempts + 1,
                )
                .execution_options(synchronize_session=False),
            ):
                claimed.append(sync_id)
    return claimed


async def _request(runtime: Runtime, sync_id: uuid.UUID) -> None:
    async with runtime.sessionmaker() as session:
        sync = await session.get(CoexistenceSync, sync_id)
        connection = await session.get(WhatsAppConnection, sync.connection_id) if sync else None
    if sync is None or sync.lease_owner != runtime.owner:
        return
    token = unseal(runtime.ring, connection, "access_token") if connection is not None else None
    if not token:
        await _settle(runtime, sync_id, status=SyncStatus.FAILED, error_code="no_token")
        return
    try:
        request_id = await runtime.graph.request_smb_app_data(
            sync.phone_number_id,
            token=token,
            sync_type=sync.sync_type.value,
            deadline=time.monotonic() + CALL_SECONDS,
        )
    except MetaError as error:
        await _failed(runtime, sync, error)
        return
    await _settle(runtime, sync_id, status=SyncStatus.REQUESTED, request_id=request_id)
    log.info("coexistence.sync_requested", sync_type=sync.sync_type.value, sync_id=str(sync_id))


async def _failed(runtime: Runtime, sync: CoexistenceSync, error: MetaError) -> None:
    code = str(error.code) if error.code is not None else "unreachable"
    if error.code == ALREADY_REQUESTED:  # a run that died after Meta's answer: it was asked, once
        await _settle(runtime, sync.id, status=SyncStatus.REQUESTED, error_code=code)
        return
    retry = (error.transient or error.is_rate_limit) and not RETRY.exhausted(sync.attempts)
    if not retry:
        await _settle(runtime, sync.id, status=SyncStatus.FAILED, error_code=code)
        log.warning("coexistence.sync_failed", sync_type=sync.sync_type.value, meta_code=error.code)
        return
    wait = timedelta(seconds=error.retry_after) if error.retry_after else RETRY.delay(sync.attempts)
    await _settle(runtime, sync.id, status=SyncStatus.PENDING, error_code=code, wait=wait)


async def _settle(
    runtime: Runtime,
    sync_id: uuid.UUID,
    *,
    status: SyncStatus,
    request_id: str | None = None,
    error_code: str | None = None,
    wait: timedelta | None = None,
) -> None:
    now = utcnow()
    values: dict[str, object] = {
        "status": status,
        "error_code": error_code,
        "lease_owner": None,
        "lease_expires_at": None,
        "next_attempt_at": now + wait if wait else None,
        "updated_at": now,
    }
    if status is SyncStatus.REQUESTED:
        values |= {"requested_at": now, "request_id": request_id}
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(CoexistenceSync)
            .where(CoexistenceSync.id == sync_id, CoexistenceSync.lease_owner == runtime.owner)
            .values(**values)
        )
