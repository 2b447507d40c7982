"""An attempt's life beyond the happy path (ARCHITECTURE §12): superseded by a newer one, ended by an
unexpected error, given up after too many resumes, or expired while nobody finishes it.

Every ending here wipes the attempt's token and PIN: an attempt that can no longer save keeps no secret.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.db import utcnow
from qualifica.jobs.leases import LeaseLost
from qualifica.observability import signup_metrics
from qualifica.observability.analytics import EventName, emit
from qualifica.runtime import Runtime
from qualifica.whatsapp.attempts import Attempt
from qualifica.whatsapp.errors import AttemptSuperseded, SignupInternalError
from qualifica.whatsapp.models import AttemptStatus
from qualifica.whatsapp.outcomes import AttemptOutcome, StepFailure, fail, record_failure
from qualifica.whatsapp.steps import METRIC_STEP, SUPERSEDED, PipelineStep, Progress

OPEN = (
    AttemptStatus.STARTED,
    AttemptStatus.PROCESSING,
    AttemptStatus.PIN_REQUIRED,
    # waiting for the admin's choice, code or number (ARCHITECTURE §14)
    AttemptStatus.CHOICE_REQUIRED,
    AttemptStatus.VERIFICATION_REQUIRED,
    AttemptStatus.NUMBER_REQUIRED,
)
PROCESSING_LIMIT = timedelta(minutes=15)  # no attempt stays ``processing`` longer
PIN_WAIT_LIMIT = timedelta(hours=24)  # an attempt waits this long for the admin's PIN
# The step an unexpected error is reported at: the one the attempt's last marker was about to run.
STEP_AFTER = {
    Progress.STARTED: PipelineStep.TOKEN_EXCHANGE,
    Progress.CALLBACK_RECEIVED: PipelineStep.TOKEN_EXCHANGE,
    Progress.TOKEN_EXCHANGED: PipelineStep.WABA_LOOKUP,
    Progress.REGISTERING: PipelineStep.REGISTRATION,
}


def superseded_answer() -> AttemptOutcome:
    return AttemptOutcome.failed(AttemptSuperseded())


def is_superseded(attempt: Attempt) -> bool:
    """Ended by a newer attempt of its organization, or expired: a late callback, choice or PIN gets 409."""
    if attempt.status is AttemptStatus.EXPIRED:
        return True
    return attempt.status is AttemptStatus.CANCELLED and attempt.step_cancelled == SUPERSEDED


async def supersede_open(session: AsyncSession, *, organization_id: uuid.UUID, keep: uuid.UUID) -> int:
    """``start``: every other open attempt of the organization ends ``cancelled``/``superseded``, its secrets
    wiped. Its lease goes too, so a pipeline still running stops at its next guarded write."""
    now = utcnow()
    ended = list(
        (
            await session.scalars(
                select(Attempt)
                .where(Attempt.organization_id == organization_id, Attempt.status.in_(OPEN))
                .where(Attempt.id != keep)
                .with_for_update()
            )
        ).all()
    )
    for attempt in ended:
        attempt.response = superseded_answer().as_json()
        await cancel(session, attempt, step=SUPERSEDED, now=now)
    return len(ended)


async def cancel(session: AsyncSession, attempt: Attempt, *, step: str, now: datetime) -> None:
    """End the attempt ``cancelled`` at ``step``, secrets and lease gone, counted and reported once."""
    attempt.status = AttemptStatus.CANCELLED
    attempt.step_cancelled = step
    attempt.access_token = attempt.registration_pin = None
    attempt.finished_at = attempt.updated_at = now
    attempt.lease_owner = attempt.lease_expires_at = None
    await emit(
        session,
        EventName.SIGNUP_CANCELLED,
        organization_id=attempt.organization_id,
        user_id=attempt.user_id,
        properties={"step_cancelled": step},
    )
    signup_metrics.cancelled(step=METRIC_STEP(step))


async def end_superseded(runtime: Runtime, attempt_id: uuid.UUID, *, holder: str) -> AttemptOutcome | None:
    """The run's save found a later attempt's connection: end this one as superseded (if still ours)."""
    outcome = superseded_answer()
    async with runtime.sessionmaker() as session, session.begin():
        attempt = await session.scalar(select(Attempt).where(Attempt.id == attempt_id).with_for_update())
        if attempt is None or attempt.lease_owner != holder:
            return None
        attempt.response = outcome.as_json()
        await cancel(session, attempt, step=SUPERSEDED, now=utcnow())
    return outcome


async def answer_after_lease_lost(runtime: Runtime, attempt_id: uuid.UUID) -> AttemptOutcome | None:
    """A run that lost its lease: 409 when a newer attempt took over, else nothing (another runner has it)."""
    async with runtime.sessionmaker() as session:
        attempt = await session.get(Attempt, attempt_id)
    return superseded_answer() if attempt is not None and is_superseded(attempt) else None


def internal_failure(attempt: Attempt) -> StepFailure:
    try:
        step = STEP_AFTER[Progress(attempt.step)]
    except ValueError:  # a marker this release does not know
        step = PipelineStep.TOKEN_EXCHANGE
    error = SignupInternalError()
    return StepFailure(step, error, analytics_code=error.code)


async def fail_internal(runtime: Runtime, attempt: Attempt, *, holder: str) -> AttemptOutcome | None:
    """Any unexpected error ends the attempt ``failed``/``internal_error``, token wiped (if still ours)."""
    try:
        return await fail(runtime, attempt.id, internal_failure(attempt), holder=holder)
    except LeaseLost:
        return await answer_after_lease_lost(runtime, attempt.id)


async def expire_stuck(runtime: Runtime, *, now: datetime | None = None) -> int:
    """End attempts processing for over 15 minutes (failed, ``internal_error``) and attempts waiting for a
    PIN for over 24 hours (expired); both lose their token and PIN."""
    now = now or utcnow()
    ended = 0
    async with runtime.sessionmaker() as session, session.begin():
        stuck = (
            await session.scalars(
                select(Attempt)
                .where(
                    Attempt.status == AttemptStatus.PROCESSING,
                    Attempt.state_consumed_at < now - PROCESSING_LIMIT,
                )
                .with_for_update()
            )
        ).all()
        for attempt in stuck:
            failure = internal_failure(attempt)
            attempt.status = AttemptStatus.FAILED
            attempt.response = AttemptOutcome.failed(failure.error).as_json()
            attempt.step_failed, attempt.error_code = failure.step, failure.error.code
            attempt.error_message = failure.error.detail
            attempt.access_token = attempt.registration_pin = None
            attempt.finished_at = now
            attempt.lease_owner = attempt.lease_expires_at = None
            await record_failure(session, attempt, failure.analytics_code, failure.error.detail, failure.step)
            signup_metrics.unprocessed()
            ended += 1
        result = await session.execute(
            update(Attempt)
            .where(
                Attempt.status == AttemptStatus.PIN_REQUIRED,
                Attempt.state_consumed_at < now - PIN_WAIT_LIMIT,
            )
            .values(
                status=AttemptStatus.EXPIRED,
                finished_at=now,
                access_token=None,
                registration_pin=None,
                lease_owner=None,
                lease_expires_at=None,
                response=superseded_answer().as_json(),
            )
        )
        ended += int(result.rowcount)  # type: ignore[attr-defined]
    return ended
