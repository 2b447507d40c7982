"""Starting, finishing, cancelling and failing an Embedded Signup attempt (the browser-facing rules)."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.db import utcnow
from qualifica.errors import Forbidden, NotFound
from qualifica.flags import WHATSAPP_EMBEDDED_SIGNUP, flag_enabled
from qualifica.jobs.leases import compare_and_set, database_now, lease_free, new_holder
from qualifica.observability import signup_metrics
from qualifica.observability.analytics import EventName, emit
from qualifica.runtime import Runtime
from qualifica.security.state import SignupState, StateExpired, StateInvalid
from qualifica.whatsapp import attempts, lifecycle
from qualifica.whatsapp.attempts import LEASE, Attempt
from qualifica.whatsapp.candidates import is_offered
from qualifica.whatsapp.connection_state import mark_error, readable_token
from qualifica.whatsapp.errors import (
    AlreadyConnected,
    AttemptSuperseded,
    FeatureDisabled,
    InvalidChoice,
    InvalidState,
    SessionExpired,
    StateAlreadyUsed,
)
from qualifica.whatsapp.models import AttemptStatus, ConnectionStatus, WhatsAppConnection
from qualifica.whatsapp.outcomes import AttemptOutcome, record_failure
from qualifica.whatsapp.pipeline import CallbackCode, run_attempt
from qualifica.whatsapp.schemas import CallbackRequest, ChooseRequest, ErrorReport
from qualifica.whatsapp.status import choices_of
from qualifica.whatsapp.steps import Progress, popup_step

POLL_SECONDS = 0.05


def processing(attempt_id: uuid.UUID) -> AttemptOutcome:
    return AttemptOutcome.pending(attempt_id, "processing")


async def signup_enabled(session: AsyncSession, runtime: Runtime, organization_id: uuid.UUID) -> bool:
    default = not runtime.settings.is_production
    return await flag_enabled(
        session, WHATSAPP_EMBEDDED_SIGNUP, organization_id=organization_id, default=default
    )


async def active_connection(session: AsyncSession, organization_id: uuid.UUID) -> WhatsAppConnection | None:
    return await session.scalar(
        select(WhatsAppConnection).where(
            WhatsAppConnection.organization_id == organization_id,
            WhatsAppConnection.status == ConnectionStatus.ACTIVE,
        )
    )


async def start(
    session: AsyncSession, runtime: Runtime, *, user: User, ip: str | None, user_agent: str | None
) -> tuple[Attempt, str]:
    if not await signup_enabled(session, runtime, user.organization_id):
        raise FeatureDisabled
    connection = await active_connection(session, user.organization_id)
    if connection is not None:
        if readable_token(runtime.ring, connection) is not None:
            raise AlreadyConnected
        # A token we cannot decrypt is as good as an invalid one: the connection is broken, reconnecting
        # is the way out (§12).
        await mark_error(session, connection, code="token_invalid", source="decryption")
    attempt = Attempt(
        id=uuid.uuid4(),
        organization_id=user.organization_id,
        user_id=user.id,
        status=AttemptStatus.STARTED,
        step=Progress.STARTED,
        started_at=utcnow(),
        ip_address=ip,
        user_agent=(user_agent or "")[:512] or None,
    )
    session.add(attempt)
    await session.flush()
    await lifecycle.supersede_open(session, organization_id=user.organization_id, keep=attempt.id)
    await emit(session, EventName.SIGNUP_STARTED, organization_id=user.organization_id, user_id=user.id)
    signup_metrics.started()
    return attempt, runtime.signer.sign(SignupState(attempt.id, user.organization_id, user.id))


def verify_state(runtime: Runtime, token: str, user: User) -> SignupState:
    try:
        state = runtime.signer.verify(token)
    except StateExpired:
        raise SessionExpired from None
    except StateInvalid:
        raise InvalidState from None
    if state.organization_id != user.organization_id or state.user_id != user.id:
        raise Forbidden
    return state


async def _attempt_of(session: AsyncSession, state: SignupState) -> Attempt:
    attempt = await session.get(Attempt, state.attempt_id)
    if attempt is None or attempt.organization_id != state.organization_id:
        raise InvalidState
    return attempt


@dataclass(frozen=True)
class CallbackInput:
    body: CallbackRequest
    redirect_uri: str | None
    received_at: float  # monotonic, when the request arrived: the deadline and the code's 30 s count from it


async def finish(runtime: Runtime, *, user: User, data: CallbackInput) -> AttemptOutcome:
    """Run (or join) the pipeline for this state; answer within the deadline or say it is processing."""
    state = verify_state(runtime, data.body.state, user)
    async with runtime.sessionmaker() as session:
        attempt = await _attempt_of(session, state)
        # The rollout flag gates every callback first: switched off, nothing says more than that.
        if not await signup_enabled(session, runtime, user.organization_id):
            raise FeatureDisabled
        if lifecycle.is_superseded(attempt):
            raise AttemptSuperseded
        connected = attempt.code_digest is None and await active_connection(session, user.organization_id)
    if connected:
        raise AlreadyConnected
    digest = hashlib.sha256(data.body.code.encode()).hexdigest()
    deadline = data.received_at + runtime.settings.callback_deadline_seconds
    if await _claim_state(runtime, attempt, digest, data):
        code = CallbackCode(data.body.code, data.received_at)
        return await run_within(runtime, attempt, deadline, code=code)
    current = await attempts.load(runtime, attempt.id)
    if lifecycle.is_superseded(current):
        raise AttemptSuperseded
    if current.code_digest != digest:
        raise StateAlreadyUsed
    return await _await_outcome(runtime, attempt.id, deadline)


async def run_within(
    runtime: Runtime, attempt: Attempt, deadline: float, *, code: CallbackCode | None = None
) -> AttemptOutcome:
    """Run the pipeline of an attempt this runtime holds; its answer, or "processing" past the deadline
    (the run goes on in the process, and a worker resumes it if the process dies)."""
    holder = attempt.lease_owner or ""  # the claim that just took the lease
    task = asyncio.create_task(run_attempt(runtime, attempt.id, holder=holder, code=code, claimed=attempt))
    runtime.keep(task)
    try:
        outcome = await asyncio.wait_for(asyncio.shield(task), timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        return processing(attempt.id)
    return outcome or processing(attempt.id)


async def choose(runtime: Runtime, *, user: User, body: ChooseRequest, received_at: float) -> AttemptOutcome:
    """The admin picked the WABA (and number) among the choices offered; the signup goes on with it."""
    async with runtime.sessionmaker() as session:
        attempt = await session.get(Attempt, body.attempt_id)
    if attempt is None or attempt.organization_id != user.organization_id:
        raise NotFound
    if attempt.status is not AttemptStatus.CHOICE_REQUIRED:
        raise AttemptSuperseded
    choices = choices_of(attempt)
    if choices is None or not is_offered(choices, body.waba_id, body.phone_number_id):
        raise InvalidChoice
    done = dict(attempt.step_results or {})
    kept = {"token": done["token"]} if "token" in done else {}
    if body.waba_id == attempt.waba_id:  # only the number was open: what was read of the WABA stands
        kept |= {name: done[name] for name in ("waba", "subscribed") if name in done}
    now, holder = utcnow(), new_holder(runtime.owner)
    async with runtime.sessionmaker() as session, session.begin():
        taken = await compare_and_set(
            session,
            update(Attempt)
            .where(
                Attempt.id == attempt.id,
                Attempt.status == AttemptStatus.CHOICE_REQUIRED,
                lease_free(Attempt.lease_expires_at),
            )
            .values(
                status=AttemptStatus.PROCESSING,
                step=Progress.TOKEN_EXCHANGED,
                waba_id=body.waba_id,
                phone_number_id=body.phone_number_id,
                step_results=kept,
                response=None,
                lease_owner=holder,
                lease_expires_at=database_now(LEASE),
                updated_at=now,
                # the 15 minutes a run may take (§12) count from here, not from the callback
                state_consumed_at=now,
            ),
        )
    if not taken:
        raise AttemptSuperseded  # another tab chose first, or the attempt moved on
    attempt = await attempts.load(runtime, attempt.id)
    return await run_within(runtime, attempt, received_at + runtime.settings.callback_deadline_seconds)


async def _claim_state(runtime: Runtime, attempt: Attempt, digest: str, data: CallbackInput) -> bool:
    """Consume the state exactly once: the winner records the code's digest and takes the pipeline's lease.

    On success ``attempt`` (detached) carries the claimed values, so the pipeline need not read it again.
    """
    body, now = data.body, utcnow()
    values = {
        "status": AttemptStatus.PROCESSING,
        "step": Progress.CALLBACK_RECEIVED,
        "code_digest": digest,
        "redirect_uri": data.redirect_uri,
        "event": body.event,
        "waba_id": body.waba_id,
        "phone_number_id": body.phone_number_id,
        "business_id": body.business_id,
        "state_consumed_at": now,
        "lease_owner": new_holder(runtime.owner),  # this claim's token: every write of the run names it
        "updated_at": now,
    }
    async with runtime.sessionmaker() as session, session.begin():
        claimed = await compare_and_set(
            session,
            update(Attempt)
            .where(
                Attempt.id == attempt.id,
                Attempt.status == AttemptStatus.STARTED,
                Attempt.code_digest.is_(None),
            )
            .values(lease_expires_at=database_now(LEASE), **values),
        )
    if not claimed:
        return False
    for name, value in values.items():
        setattr(attempt, name, value)
    return True


async def _await_outcome(runtime: Runtime, attempt_id: uuid.UUID, deadline: float) -> AttemptOutcome:
    """A retried callback (same state, same code) gets the first one's answer once there is one."""
    while True:
        attempt = await attempts.load(runtime, attempt_id)
        if attempt.response is not None:
            return AttemptOutcome.from_json(attempt.response)
        if attempt.status not in (AttemptStatus.PROCESSING, AttemptStatus.STARTED):
            raise StateAlreadyUsed
        if time.monotonic() >= deadline:
            return processing(attempt_id)
        await asyncio.sleep(POLL_SECONDS)


async def cancel(
    session: AsyncSession, runtime: Runtime, *, user: User, state_token: str, step: str | None
) -> None:
    attempt = await _attempt_of(session, verify_state(runtime, state_token, user))
    if attempt.status is not AttemptStatus.STARTED:
        return  # already settled: a second report of the same end changes nothing
    attempt.state_consumed_at = now = utcnow()
    await lifecycle.cancel(session, attempt, step=popup_step(step), now=now)


async def report_error(session: AsyncSession, runtime: Runtime, *, user: User, report: ErrorReport) -> None:
    """The popup showed the admin an error (CANCEL with error_message/error_code|error_id)."""
    attempt = await _attempt_of(session, verify_state(runtime, report.state, user))
    if attempt.status is not AttemptStatus.STARTED:
        return
    code = report.error_code if report.error_code not in (None, "") else report.error_id
    error_code = str(code) if code not in (None, "") else "unknown"
    message = (report.error_message or "Erro informado pela Meta durante a conexão.").strip()[:2000]
    step = popup_step(report.step)
    attempt.status = AttemptStatus.FAILED
    attempt.error_code, attempt.error_message, attempt.step_failed = error_code, message, step
    attempt.meta_session_id = report.session_id
    attempt.state_consumed_at = attempt.finished_at = utcnow()
    await record_failure(session, attempt, error_code, message, step)
