"""The connection's background jobs: resume interrupted signups (``signup.resume``), expire abandoned ones
(``signup.expire``), check live connections with Meta (``connection.health_check``) and mail the admins
(``mail.deliver``).

Safe to run in as many processes as there are: attempts are claimed with a lease (compare-and-set, with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL to spread candidates between workers).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from sqlalchemy import update

from qualifica.db import utcnow
from qualifica.jobs.leases import lease_free
from qualifica.jobs.runner import Job
from qualifica.logging import get_logger
from qualifica.observability import signup_metrics
from qualifica.runtime import Runtime
from qualifica.security.state import STATE_MAX_AGE_SECONDS
from qualifica.whatsapp import attempts, lifecycle, retention
from qualifica.whatsapp.attempts import Attempt
from qualifica.whatsapp.coexistence import request_due_syncs
from qualifica.whatsapp.health_check import run_due_health_checks
from qualifica.whatsapp.mail import delivery as mail_delivery
from qualifica.whatsapp.mail import retention as mail_retention
from qualifica.whatsapp.models import AttemptStatus
from qualifica.whatsapp.pipeline import run_attempt

log = get_logger(__name__)
BATCH = 10
WAITING_FOR_ADMIN = (
    AttemptStatus.CHOICE_REQUIRED,
    AttemptStatus.VERIFICATION_REQUIRED,
    AttemptStatus.NUMBER_REQUIRED,
)
WAITING_LIFETIME = timedelta(hours=24)


async def resume_due(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Run every processing attempt nobody is holding; returns how many this worker took."""
    taken: list[tuple[uuid.UUID, str]] = []
    for attempt_id, abandoned in await attempts.due_for_resume(runtime, now=now, limit=BATCH):
        holder = await attempts.claim(runtime, attempt_id, now=now)
        if holder is not None:
            if abandoned:
                signup_metrics.unprocessed()  # its holder crashed or ran out of lease mid-way
            log.info("signup.resume", attempt_id=str(attempt_id), abandoned=abandoned)
            taken.append((attempt_id, holder))
    await asyncio.gather(*(run_attempt(runtime, attempt_id, holder=holder) for attempt_id, holder in taken))
    return len(taken)


async def expire_abandoned(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Attempts whose popup never reported back within the state's lifetime can no longer finish."""
    now = now or utcnow()
    cutoff = now.timestamp() - STATE_MAX_AGE_SECONDS
    async with runtime.sessionmaker() as session, session.begin():
        result = await session.execute(
            update(Attempt)
            .where(
                Attempt.status == AttemptStatus.STARTED,
                Attempt.started_at < datetime.fromtimestamp(cutoff, now.tzinfo),
            )
            .values(status=AttemptStatus.EXPIRED, finished_at=now)
        )
        # A signup waiting for the admin's choice, code or number holds a sealed token: not forever.
        waited = await session.execute(
            update(Attempt)
            .where(
                Attempt.status.in_(WAITING_FOR_ADMIN),
                Attempt.updated_at < now - WAITING_LIFETIME,
                lease_free(Attempt.lease_expires_at, now),
            )
            .values(
                status=AttemptStatus.EXPIRED,
                finished_at=now,
                updated_at=now,
                access_token=None,
                registration_pin=None,
            )
        )
    # and those stuck processing past 15 minutes, or waiting for a PIN past 24 hours (§12)
    expired = int(result.rowcount) + int(waited.rowcount)  # type: ignore[attr-defined]
    return expired + await lifecycle.expire_stuck(runtime, now=now)


JOBS = (
    Job("signup.resume", resume_due, interval=1.0),
    Job("signup.expire", expire_abandoned, interval=10.0),
    # Each check is a few Meta calls; which connections are due is ``health_check_interval_seconds``.
    Job("connection.health_check", run_due_health_checks, interval=5.0),
    # A coexistence number's contact and history syncs (once each, within Meta's 24 h).
    Job("coexistence.sync", request_due_syncs, interval=5.0),
    # The admins' mails about the connection (§16), from the outbox its changes write.
    mail_delivery.JOB,
    mail_retention.JOB,
    retention.JOB,
)
