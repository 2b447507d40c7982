"""Meta's rate limits are waited out, not hammered (ARCHITECTURE §14): each Meta call of the pipeline
answered with a rate limit postpones the attempt until Meta's advertised time, then it completes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.runtime import Runtime
from qualifica.whatsapp.jobs import resume_due
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt
from qualifica.whatsapp.steps import Progress
from tests.support.signup import Browser

# The Meta calls after the code exchange, as the sandbox names them (``phone_numbers``: the event named
# no number, so the WABA's numbers are listed).
CALLS = ["debug_token", "phone_number", "phone_numbers", "waba", "subscribed_apps", "register"]
RATE_LIMIT_TEXT = (
    "A Meta está limitando as requisições agora. Vamos continuar automaticamente em alguns minutos."
)


def throttle(sandbox: Sandbox, endpoint: str, code: int, minutes: float | None) -> None:
    """The next call of ``endpoint`` is refused as rate limited, advertising ``minutes`` to regain access."""
    sandbox.fail_next(endpoint, code=code)
    if minutes is not None:
        usage = {
            "type": "whatsapp_business_management",
            "call_count": 100,
            "total_cputime": 10,
            "total_time": 10,
            "estimated_time_to_regain_access": minutes,
        }
        sandbox.set_usage(business={"600000000000006": [usage]})


async def the_attempt(db: AsyncSession) -> EmbeddedSignupAttempt:
    db.expire_all()
    attempt: EmbeddedSignupAttempt | None = await db.scalar(select(EmbeddedSignupAttempt))
    assert attempt is not None
    return attempt


class TestRateLimits:
    @pytest.mark.parametrize("endpoint", CALLS)
    @pytest.mark.parametrize(("code", "minutes"), [(80007, 2), (4, None)], ids=["80007-2min", "4-default"])
    async def test_a_rate_limit_postpones_until_the_advertised_time_then_completes(
        self,
        browser: Browser,
        sandbox: Sandbox,
        runtime: Runtime,
        db: AsyncSession,
        endpoint: str,
        code: int,
        minutes: float | None,
    ) -> None:
        throttle(sandbox, endpoint, code, minutes)
        before = utcnow()
        state = await browser.start()
        if endpoint == "phone_numbers":  # a new WABA with its one number, which the event does not name
            response = await browser.callback(
                state, sandbox.complete_signup("finish_new_waba"), phone_number_id=None
            )
        else:
            response = await browser.callback(state, sandbox.complete_signup())
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "processing"
        assert len(sandbox.requests(endpoint)) == 1  # never retried inside the request

        status = await browser.status()
        assert (status["status"], status["step"]) == ("connecting", Progress.RATE_LIMITED)
        assert Progress.RATE_LIMITED.text == RATE_LIMIT_TEXT
        attempt = await the_attempt(db)
        wait = timedelta(minutes=minutes) if minutes else timedelta(seconds=60)
        assert attempt.lease_owner is None and attempt.lease_expires_at is not None
        assert before + wait <= attempt.lease_expires_at <= utcnow() + wait

        sandbox.set_usage()
        assert await resume_due(runtime, now=before + wait - timedelta(seconds=5)) == 0
        assert len(sandbox.requests(endpoint)) == 1  # nothing within the advertised window

        assert await resume_due(runtime, now=utcnow() + wait + timedelta(seconds=1)) == 1
        attempt = await the_attempt(db)
        assert attempt.status is AttemptStatus.COMPLETED
        assert len(sandbox.requests(endpoint)) == 2
        assert (await browser.status())["status"] == "active"
