"""The retry schedule every claiming job shares."""

from __future__ import annotations

from datetime import timedelta

from qualifica.jobs.leases import RetryPolicy
from qualifica.observability import delivery
from qualifica.webhooks import processing
from qualifica.whatsapp import attempts


class TestRetryPolicy:
    def test_the_delay_doubles_from_the_first_and_stops_at_the_cap(self) -> None:
        policy = RetryPolicy.seconds(lease=30, first_delay=2, max_delay=10, max_attempts=5)

        delays = [policy.delay(n).total_seconds() for n in range(1, 6)]

        assert delays == [2, 4, 8, 10, 10]
        assert policy.lease == timedelta(seconds=30)

    def test_it_gives_up_after_the_last_attempt(self) -> None:
        policy = RetryPolicy.seconds(lease=30, first_delay=2, max_delay=10, max_attempts=3)

        assert [policy.exhausted(n) for n in (1, 2, 3, 4)] == [False, False, True, True]

    def test_each_job_keeps_the_numbers_it_is_documented_with(self) -> None:
        # docs/architecture.md "Worker": signup 30 s lease, 5 s … 5 min, 6 resumes; webhook changes 30 s,
        # 2 s … 1 h, 10 attempts; analytics 60 s, 5 s … 1 h, 12 attempts.
        assert RetryPolicy.seconds(lease=30, first_delay=5, max_delay=300, max_attempts=6) == attempts.RETRY
        assert (
            RetryPolicy.seconds(lease=30, first_delay=2, max_delay=3600, max_attempts=10) == processing.RETRY
        )
        assert RetryPolicy.seconds(lease=60, first_delay=5, max_delay=3600, max_attempts=12) == delivery.RETRY
