"""The worker: resumes interrupted signups (``signup.resume``) and expires abandoned ones.

Safe to run as many times over as there are processes: attempts are claimed with a lease (compare-and-set,
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL to spread candidates between workers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import update

from qualifica.db import utcnow
from qualifica.logging import get_logger
from qualifica.observability import signup_metrics
from qualifica.observability.delivery import deliver_analytics
from qualifica.security.state import STATE_MAX_AGE_SECONDS
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp import attempts
from qualifica.whatsapp.attempts import Attempt
from qualifica.whatsapp.health import run_due_health_checks
from qualifica.whatsapp.models import AttemptStatus
from qualifica.whatsapp.pipeline import run_attempt
from qualifica.whatsapp.runtime import SignupRuntime

log = get_logger(__name__)
BATCH = 10


async def resume_due(runtime: SignupRuntime, *, now: datetime | None = None) -> int:
    """Run every processing attempt nobody is holding; returns how many this worker took."""
    now = now or utcnow()
    taken = []
    for attempt_id, abandoned in await attempts.due_for_resume(runtime, now=now, limit=BATCH):
        if await attempts.claim(runtime, attempt_id, now=now):
            if abandoned:
                signup_metrics.unprocessed()  # its holder crashed or ran out of lease mid-way
            log.info("signup.resume", attempt_id=str(attempt_id), abandoned=abandoned)
            taken.append(attempt_id)
    await asyncio.gather(*(run_attempt(runtime, attempt_id, first_run=False) for attempt_id in taken))
    return len(taken)


async def expire_abandoned(runtime: SignupRuntime, *, now: datetime | None = None) -> int:
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
    return int(result.rowcount)  # type: ignore[attr-defined]


Job = Callable[[SignupRuntime], Awaitable[int]]
# Every round runs each job once; a job takes what is due, with a lease, and returns how much it did.
JOBS: list[tuple[str, Job]] = [
    ("signup.resume", resume_due),
    ("signup.expire", expire_abandoned),
    ("analytics.deliver", deliver_analytics),
    ("webhook.process", process_webhooks),
    ("connection.health_check", run_due_health_checks),
]


async def run_worker(runtime: SignupRuntime, stop: asyncio.Event, *, interval: float = 1.0) -> None:
    log.info("worker_started", owner=runtime.owner)
    while not stop.is_set():
        for name, job in JOBS:
            try:
                await job(runtime)
            except Exception as error:  # one failing job must not stop the others; the next round retries
                log.error("worker_job_failed", job=name, error_type=type(error).__name__, exc_info=error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    log.info("worker_stopped", owner=runtime.owner)
