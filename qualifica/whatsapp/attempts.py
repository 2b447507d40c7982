"""Leases and guarded writes on ``embedded_signup_attempts`` (the toolkit is ``qualifica.jobs.leases``).

Every write of a running pipeline is conditioned on still holding the lease, so two runners (a duplicate
callback, a second worker, a process that came back) never both advance the same attempt.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from qualifica.db import utcnow
from qualifica.jobs.leases import (
    RetryPolicy,
    compare_and_set,
    database_now,
    lease_free,
    new_holder,
    spread,
    write_holding,
)
from qualifica.runtime import Runtime
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt

# A postponed attempt (Meta unavailable) waits 5 s, 10 s … capped at 5 minutes, resumed at most 6 times;
# while it waits its owner is NULL and ``lease_expires_at`` means "not before".
RETRY = RetryPolicy.seconds(lease=30, first_delay=5, max_delay=300, max_attempts=6)
LEASE = RETRY.lease

Attempt = EmbeddedSignupAttempt


async def load(runtime: Runtime, attempt_id: uuid.UUID) -> Attempt:
    async with runtime.sessionmaker() as session:
        attempt = await session.get(Attempt, attempt_id, populate_existing=True)
    if attempt is None:
        raise LookupError(f"attempt {attempt_id} does not exist")
    return attempt


async def write(runtime: Runtime, attempt_id: uuid.UUID, *, holder: str, **values: Any) -> None:
    """Persist a step's result and renew the lease, if (and only if) the claim ``holder`` still holds it."""
    async with runtime.sessionmaker() as session, session.begin():
        await write_holding(
            session,
            update(Attempt)
            .where(Attempt.id == attempt_id, Attempt.lease_owner == holder)
            .values(lease_expires_at=database_now(LEASE), updated_at=utcnow(), **values),
        )


async def claim(runtime: Runtime, attempt_id: uuid.UUID, *, now: datetime | None = None) -> str | None:
    """Take the lease of a processing attempt whose lease is free or expired; the claim's holder token."""
    holder = new_holder(runtime.owner)
    async with runtime.sessionmaker() as session, session.begin():
        won = await compare_and_set(
            session,
            update(Attempt)
            .where(
                Attempt.id == attempt_id,
                Attempt.status == AttemptStatus.PROCESSING,
                lease_free(Attempt.lease_expires_at, now),
            )
            .values(
                lease_owner=holder,
                lease_expires_at=database_now(LEASE),
                resume_count=Attempt.resume_count + 1,
            ),
        )
    return holder if won else None


async def due_for_resume(
    runtime: Runtime, *, now: datetime | None = None, limit: int
) -> list[tuple[uuid.UUID, bool]]:
    """Processing attempts nobody holds (or whose holder's lease ran out), with "was it abandoned?"."""
    query = (
        select(Attempt.id, Attempt.lease_owner)
        .where(Attempt.status == AttemptStatus.PROCESSING, lease_free(Attempt.lease_expires_at, now))
        .order_by(Attempt.updated_at)
        .limit(limit)
    )
    async with runtime.sessionmaker() as session, session.begin():
        rows = (await session.execute(spread(query, runtime))).all()
    return [(row.id, row.lease_owner is not None) for row in rows]
