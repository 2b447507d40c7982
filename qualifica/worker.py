"""The worker: every domain's background jobs, run by ``qualifica worker`` (or inside ``serve`` in demo mode).

Each domain lists its jobs beside their code; this module only gathers them. See ``jobs.runner`` for how
they run: each in its own task, so a slow Meta call in one never delays another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from qualifica.accounts import retention as accounts_retention
from qualifica.assistant import push as assistant_push
from qualifica.assistant import queue as assistant_queue
from qualifica.assistant import retention as assistant_retention
from qualifica.jobs.runner import STOP_GRACE_SECONDS, Job, run_jobs
from qualifica.observability import delivery
from qualifica.observability import retention as analytics_retention
from qualifica.runtime import Runtime
from qualifica.webhooks import jobs as webhook_jobs
from qualifica.whatsapp import jobs as whatsapp_jobs

JOBS: tuple[Job, ...] = (
    *accounts_retention.JOBS,
    *whatsapp_jobs.JOBS,
    *webhook_jobs.JOBS,
    *assistant_queue.JOBS,
    assistant_push.JOB,
    assistant_retention.JOB,
    delivery.JOB,
    analytics_retention.JOB,
)


async def run_worker(
    runtime: Runtime, stop: asyncio.Event, *, jobs: Sequence[Job] = JOBS, grace: float = STOP_GRACE_SECONDS
) -> None:
    await run_jobs(runtime, jobs, stop, grace=grace)
