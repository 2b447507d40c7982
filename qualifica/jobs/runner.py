"""The job runner: every job in its own task(s), on its own interval, so no job waits for another.

A job is ``async (runtime) -> int``: it takes what is due (claiming rows with a lease, see ``leases``) and
returns how much it did. A round that did something is followed at once by another, so a burst drains; an
idle job sleeps its interval. A job that raises is logged (``worker_job_failed``: the job, the error's type
and where it was raised, never its message, which may quote a secret) and tried again after a growing
pause; it never stops the others. ``stop`` wakes every sleeping loop at once; a job in the middle of a round
gets a grace period (``STOP_GRACE_SECONDS``) to finish and is then cancelled (its leases run out; another
worker resumes).
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from qualifica.logging import get_logger
from qualifica.runtime import Runtime

log = get_logger(__name__)
STOP_GRACE_SECONDS = 10.0
MAX_FAILURE_PAUSE_SECONDS = 60.0


@dataclass(frozen=True)
class Job:
    """A dotted name (``webhook.process``), the round to run, its idle interval and how many loops run it.

    Loops of one job run side by side; the rows they claim under leases keep them from doing the same work.
    """

    name: str
    run: Callable[[Runtime], Awaitable[int]]
    interval: float = 1.0
    concurrency: int = 1

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.concurrency < 1:
            raise ValueError(f"job {self.name}: the interval must be positive and the concurrency at least 1")


async def run_jobs(
    runtime: Runtime, jobs: Sequence[Job], stop: asyncio.Event, *, grace: float = STOP_GRACE_SECONDS
) -> None:
    """Run every job until ``stop`` is set, then wait for (or cancel) the rounds in progress."""
    log.info("worker_started", owner=runtime.owner, jobs=[job.name for job in jobs])
    loops = [
        asyncio.create_task(_loop(runtime, job, stop), name=f"{job.name}#{index}")
        for job in jobs
        for index in range(job.concurrency)
    ]
    try:
        await stop.wait()
        _, late = await asyncio.wait(loops, timeout=grace) if loops else (set(), set())
        for task in late:
            log.warning("worker_job_cancelled", job=task.get_name())
    finally:  # also when the runner itself is cancelled: no loop outlives it
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
    log.info("worker_stopped", owner=runtime.owner)


async def _loop(runtime: Runtime, job: Job, stop: asyncio.Event) -> None:
    failures = 0
    while not stop.is_set():
        try:
            done = await job.run(runtime)
            failures = 0
        except Exception as error:  # one failing round must not stop this job, nor any other
            failures += 1
            done = 0
            log.error("worker_job_failed", job=job.name, error_type=type(error).__name__, where=_where(error))
        if done:
            await asyncio.sleep(0)  # let the other loops in between a burst's rounds
            continue
        pause = min(job.interval * 2**failures, MAX_FAILURE_PAUSE_SECONDS) if failures else job.interval
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=pause)


def _where(error: BaseException) -> str:
    """The frame that raised, ``function (file:line)``: enough to find it, without the message."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "unknown"
    frame = frames[-1]
    return f"{frame.name} ({Path(frame.filename).name}:{frame.lineno})"
