"""The worker runs every job in its own task: a blocked or failing job never holds up the others."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.jobs.runner import Job, run_jobs
from qualifica.runtime import Runtime
from qualifica.webhooks import jobs as webhook_jobs
from qualifica.webhooks.models import WebhookChange
from qualifica.worker import JOBS
from tests.support.webhooks import account_entry, envelope, post_signed

BLOCKED_SECONDS = 30.0
SECRET = "EAAGm0PX4ZCpsBAKlnot-a-real-token"  # a marker that must never reach a log line


@asynccontextmanager
async def worker(
    runtime: Runtime, jobs: Sequence[Job], *, grace: float = 0.2
) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_jobs(runtime, jobs, stop, grace=grace))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)


async def settled(db: AsyncSession) -> int:
    rows = await db.scalars(
        select(WebhookChange.id)
        .where(WebhookChange.processed_at.is_not(None))
        .execution_options(populate_existing=True)
    )
    return len(rows.all())


class TestIndependentJobs:
    async def test_a_job_blocked_for_30_s_does_not_delay_webhook_processing(
        self, runtime: Runtime, client: httpx.AsyncClient, db: AsyncSession
    ) -> None:
        blocked = asyncio.Event()
        finished: list[bool] = []

        async def slow_meta_call(_: Runtime) -> int:
            blocked.set()
            await asyncio.sleep(BLOCKED_SECONDS)  # a resume or health round waiting on a slow Meta
            finished.append(True)
            return 1

        async with worker(runtime, [Job("slow.job", slow_meta_call), *webhook_jobs.JOBS]):
            await asyncio.wait_for(blocked.wait(), timeout=2)
            posted_at = time.monotonic()
            response = await post_signed(
                client, envelope(account_entry("MM_LITE_TERMS_SIGNED", "4100000000001"))
            )
            assert response.status_code == 200
            while await settled(db) == 0:
                assert time.monotonic() - posted_at < 2.0, "the webhook waited for the blocked job"
                await asyncio.sleep(0.05)
            took = time.monotonic() - posted_at

        assert took < 2.0
        assert finished == []  # the other job was still blocked the whole time
        print(f"webhook processed {took * 1000:.0f} ms after it was posted, beside a job blocked for 30 s")

    async def test_a_failing_job_is_logged_and_retried_while_the_others_keep_running(
        self, runtime: Runtime, captured_logs: io.StringIO
    ) -> None:
        failures: list[float] = []
        ticks: list[float] = []

        async def broken(_: Runtime) -> int:
            failures.append(time.monotonic())
            raise RuntimeError(f"Meta answered 500 to {SECRET}")

        async def healthy(_: Runtime) -> int:
            ticks.append(time.monotonic())
            return 0

        async with worker(
            runtime, [Job("broken.job", broken, interval=0.05), Job("healthy.job", healthy, interval=0.05)]
        ):
            await asyncio.sleep(0.6)

        assert len(failures) >= 2  # tried again after failing
        assert len(ticks) >= 5  # and the healthy job never stopped
        failed = [
            json.loads(line) for line in captured_logs.getvalue().splitlines() if "worker_job_failed" in line
        ]
        assert failed and failed[0]["job"] == "broken.job" and failed[0]["error_type"] == "RuntimeError"
        assert failed[0]["where"].startswith("broken (test_runner.py:")
        assert SECRET not in captured_logs.getvalue()

    async def test_a_failing_job_backs_off_instead_of_spinning(
        self, runtime: Runtime, captured_logs: io.StringIO
    ) -> None:
        failures: list[float] = []

        async def broken(_: Runtime) -> int:
            failures.append(time.monotonic())
            raise RuntimeError("still down")

        async with worker(runtime, [Job("broken.job", broken, interval=0.05)]):
            await asyncio.sleep(1.0)

        pauses = [later - earlier for earlier, later in itertools.pairwise(failures)]
        assert len(failures) < 8
        assert pauses == sorted(pauses)  # each pause at least as long as the one before

    async def test_concurrency_runs_that_many_rounds_side_by_side(self, runtime: Runtime) -> None:
        running = 0
        most = 0

        async def round_(_: Runtime) -> int:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.1)
            running -= 1
            return 0

        async with worker(runtime, [Job("wide.job", round_, interval=0.01, concurrency=3)]):
            await asyncio.sleep(0.5)

        assert most == 3

    async def test_a_round_that_did_work_is_followed_at_once_by_another(self, runtime: Runtime) -> None:
        backlog = [5]

        async def drain(_: Runtime) -> int:
            if backlog[0] == 0:
                return 0
            backlog[0] -= 1
            return 1

        async with worker(runtime, [Job("drain.job", drain, interval=60.0)]):
            await asyncio.sleep(0.3)

        assert backlog == [0]  # five rounds within 0.3 s although the idle interval is a minute


class TestStop:
    async def test_stop_wakes_sleeping_jobs_and_cancels_a_blocked_one_after_the_grace(
        self, runtime: Runtime
    ) -> None:
        started = asyncio.Event()

        async def stuck(_: Runtime) -> int:
            started.set()
            await asyncio.sleep(BLOCKED_SECONDS)
            return 0

        async def idle(_: Runtime) -> int:
            return 0

        stop = asyncio.Event()
        task = asyncio.create_task(
            run_jobs(
                runtime, [Job("stuck.job", stuck), Job("idle.job", idle, interval=3600)], stop, grace=0.3
            )
        )
        await asyncio.wait_for(started.wait(), timeout=2)
        stopped_at = time.monotonic()
        stop.set()
        await asyncio.wait_for(task, timeout=5)

        assert time.monotonic() - stopped_at < 1.5

    async def test_a_round_under_way_is_awaited_when_it_ends_within_the_grace(self, runtime: Runtime) -> None:
        started, finished = asyncio.Event(), asyncio.Event()

        async def short(_: Runtime) -> int:
            started.set()
            await asyncio.sleep(0.3)  # a batch about to commit
            finished.set()
            return 1

        stop = asyncio.Event()
        task = asyncio.create_task(run_jobs(runtime, [Job("short.job", short)], stop, grace=5.0))
        await asyncio.wait_for(started.wait(), timeout=2)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

        assert finished.is_set()

    async def test_cancelling_the_runner_cancels_every_loop(self, runtime: Runtime) -> None:
        started, cancelled = asyncio.Event(), asyncio.Event()

        async def stuck(_: Runtime) -> int:
            started.set()
            try:
                await asyncio.sleep(BLOCKED_SECONDS)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return 0

        task = asyncio.create_task(run_jobs(runtime, [Job("stuck.job", stuck)], asyncio.Event()))
        await asyncio.wait_for(started.wait(), timeout=2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

        assert cancelled.is_set()

    def test_a_job_that_could_never_run_is_refused(self) -> None:
        async def nothing(_: Runtime) -> int:
            return 0

        with pytest.raises(ValueError, match="concurrency"):
            Job("never.job", nothing, concurrency=0)

    def test_every_job_of_the_service_has_a_dotted_name_and_runs_at_least_once_at_a_time(self) -> None:
        names = [job.name for job in JOBS]

        assert sorted(names) == [
            "accounts.retention",
            "analytics.deliver",
            "analytics.retention",
            "assistant.push",
            "assistant.retention",
            "assistant.send",
            "coexistence.sync",
            "connection.health_check",
            "mail.deliver",
            "mail.retention",
            "signup.expire",
            "signup.resume",
            "signup.retention",
            "webhook.process",
            "webhook.retention",
        ]
        assert all(job.concurrency >= 1 and job.interval > 0 for job in JOBS)
