"""The worker: every domain's background jobs, run by one process (``qualifica worker``, or inside
``serve`` in demo mode)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from qualifica.logging import get_logger
from qualifica.observability.delivery import deliver_analytics
from qualifica.runtime import Runtime
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp import jobs as whatsapp_jobs
from qualifica.whatsapp.health_check import run_due_health_checks

log = get_logger(__name__)


Job = Callable[[Runtime], Awaitable[int]]
# Every round runs each job once; a job takes what is due, with a lease, and returns how much it did.
JOBS: list[tuple[str, Job]] = [
    ("signup.resume", whatsapp_jobs.resume_due),
    ("signup.expire", whatsapp_jobs.expire_abandoned),
    ("analytics.deliver", deliver_analytics),
    ("webhook.process", process_webhooks),
    ("connection.health_check", run_due_health_checks),
]


async def run_worker(runtime: Runtime, stop: asyncio.Event, *, interval: float = 1.0) -> None:
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
