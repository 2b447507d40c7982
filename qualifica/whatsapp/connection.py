"""Changing an existing connection: disconnecting it, and finishing one that waits for the 2FA PIN."""

from __future__ import annotations

import re
import time
from typing import NoReturn

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica import audit
from qualifica.accounts.models import User
from qualifica.db import utcnow
from qualifica.errors import AppError
from qualifica.jobs.leases import (
    LeaseLost,
    compare_and_set,
    database_now,
    lease_free,
    new_holder,
    write_holding,
)
from qualifica.logging import get_logger
from qualifica.meta.errors import MetaError
from qualifica.meta.models import PhoneNumber, Waba
from qualifica.observability.analytics import EventName, emit
from qualifica.runtime import Runtime
from qualifica.security.crypto import unseal
from qualifica.whatsapp import lifecycle, ownership
from qualifica.whatsapp.attempts import LEASE, Attempt
from qualifica.whatsapp.connection_state import readable_token, tell_assistant
from qualifica.whatsapp.errors import (
    AttemptSuperseded,
    InvalidPin,
    NoPinRequired,
    NotConnected,
    PinAttemptsExhausted,
    PinMismatch,
)
from qualifica.whatsapp.models import AttemptStatus, ConnectionStatus, WhatsAppConnection
from qualifica.whatsapp.outcomes import AttemptOutcome, Saved, StepFailure, complete, fail
from qualifica.whatsapp.pipeline import STEP_SECONDS, meta_failure, waba_in_use
from qualifica.whatsapp.steps import PipelineStep

UNSUBSCRIBE_SECONDS = 5.0
PIN = re.compile(r"^[0-9]{6}$")
PIN_TRIES = 3  # wrong PINs one attempt may send before it ends
log = get_logger(__name__)


async def disconnect(
    session: AsyncSession,
    runtime: Runtime,
    *,
    user: User,
    reason: str | None,
    ip: str | None,
    user_agent: str | None,
) -> WhatsAppConnection:
    """Unsubscribe our app (best effort, recorded), wipe the token and PIN, mark the row disconnected."""
    connection = await session.scalar(
        select(WhatsAppConnection)
        .where(WhatsAppConnection.organization_id == user.organization_id)
        .with_for_update()
    )
    if connection is None or connection.status is ConnectionStatus.DISCONNECTED:
        raise NotConnected
    token = readable_token(runtime.ring, connection)
    unsubscribe = "skipped: no token"
    if token and await ownership.other_holder(session, connection):
        unsubscribe = "skipped: held by another connection"  # its webhooks must keep coming
    elif token:
        try:
            await runtime.graph.unsubscribe_app(
                connection.waba_id, token=token, deadline=time.monotonic() + UNSUBSCRIBE_SECONDS
            )
            unsubscribe = "ok"
        except MetaError as error:
            unsubscribe = f"failed: {error.code if error.code is not None else 'unreachable'}"
    connection.access_token = connection.registration_pin = None
    connection.status = ConnectionStatus.DISCONNECTED
    connection.disconnected_at = connection.updated_at = utcnow()
    connection.error_code = connection.error_message = None
    await tell_assistant(session, connection)
    given = (reason or "").strip()
    await audit.record(
        session,
        organization_id=user.organization_id,
        actor_user_id=user.id,
        action="whatsapp.disconnect",
        status="success",
        ip_address=ip,
        user_agent=user_agent,
        details={"reason": given or None, "unsubscribe": unsubscribe, "waba_id": connection.waba_id},
    )
    await emit(
        session,
        EventName.DISCONNECTED,
        organization_id=user.organization_id,
        user_id=user.id,
        properties={"reason": given or "unspecified"},
    )
    return connection


async def submit_pin(runtime: Runtime, *, user: User, pin: str) -> AttemptOutcome:
    """Retry registration with the number's existing two-step PIN, then save the connection."""
    if not PIN.fullmatch(pin):
        raise InvalidPin
    attempt = await _take_pin_attempt(runtime, user)
    try:
        return await _register_with(runtime, attempt, pin)
    except (AppError, LeaseLost):
        raise
    except Exception as error:  # every exit ends the attempt; the type is logged, never the text
        log.error("pin_internal_error", attempt_id=str(attempt.id), error_type=type(error).__name__)
        outcome = await lifecycle.fail_internal(runtime, attempt, holder=_holder(attempt))
        if outcome is None:
            raise
        return outcome


async def _register_with(runtime: Runtime, attempt: Attempt, pin: str) -> AttemptOutcome:
    token = unseal(runtime.ring, attempt, "access_token") or ""
    results = attempt.step_results or {}
    phone, waba = PhoneNumber.model_validate(results["phone"]), Waba.model_validate(results["waba"])
    try:
        await runtime.graph.register_phone(
            phone.id, pin, token=token, deadline=time.monotonic() + STEP_SECONDS
        )
    except MetaError as error:
        if error.is_pin_mismatch:
            await _mismatched(runtime, attempt)
        failure = meta_failure(PipelineStep.REGISTRATION, error)
        if error.transient:
            await _release(runtime, attempt)
        else:
            await fail(runtime, attempt.id, failure, holder=_holder(attempt))
        raise failure.error from None
    saved = Saved(token, attempt.token_expires_at, pin, phone, waba, has_existing_number=True)
    try:
        return await complete(runtime, attempt.id, saved, holder=_holder(attempt))
    except ownership.InUse:
        return await fail(runtime, attempt.id, waba_in_use(), holder=_holder(attempt))
    except ownership.Superseded:
        ended = await lifecycle.end_superseded(runtime, attempt.id, holder=_holder(attempt))
        return ended or lifecycle.superseded_answer()


async def _mismatched(runtime: Runtime, attempt: Attempt) -> NoReturn:
    """Count the wrong PIN; the third ends the attempt (Meta allows 10 registrations per number in 72 h)."""
    async with runtime.sessionmaker() as session, session.begin():
        await write_holding(
            session,
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.lease_owner == _holder(attempt))
            .values(pin_mismatches=Attempt.pin_mismatches + 1),
        )
        mismatches = await session.scalar(select(Attempt.pin_mismatches).where(Attempt.id == attempt.id))
    if (mismatches or 0) < PIN_TRIES:
        await _release(runtime, attempt)
        raise PinMismatch
    exhausted = PinAttemptsExhausted()
    failure = StepFailure(PipelineStep.REGISTRATION, exhausted, analytics_code=exhausted.code)
    await fail(runtime, attempt.id, failure, holder=_holder(attempt))
    raise exhausted


def _holder(attempt: Attempt) -> str:
    """The PIN run's claim token (``_take_pin_attempt`` set it)."""
    return attempt.lease_owner or ""


async def _take_pin_attempt(runtime: Runtime, user: User) -> Attempt:
    holder = new_holder(runtime.owner)
    async with runtime.sessionmaker() as session, session.begin():
        attempt = await session.scalar(
            select(Attempt)
            .where(
                Attempt.organization_id == user.organization_id, Attempt.status == AttemptStatus.PIN_REQUIRED
            )
            .order_by(Attempt.created_at.desc())
            .limit(1)
        )
        if attempt is None:
            raise await _why_no_pin_attempt(session, user)
        taken = await compare_and_set(
            session,
            update(Attempt)
            .where(
                Attempt.id == attempt.id,
                Attempt.status == AttemptStatus.PIN_REQUIRED,
                lease_free(Attempt.lease_expires_at),
            )
            .values(lease_owner=holder, lease_expires_at=database_now(LEASE)),
        )
    if not taken:
        raise NoPinRequired  # another PIN for this attempt is being tried right now
    attempt.lease_owner = holder
    return attempt


async def _why_no_pin_attempt(session: AsyncSession, user: User) -> AppError:
    """The organization's last attempt says why no PIN is awaited: superseded or expired, out of tries."""
    last = await session.scalar(
        select(Attempt)
        .where(Attempt.organization_id == user.organization_id, Attempt.status != AttemptStatus.STARTED)
        .order_by(Attempt.created_at.desc())
        .limit(1)
    )
    if last is None:
        return NoPinRequired()
    if lifecycle.is_superseded(last):
        return AttemptSuperseded()
    if last.status is AttemptStatus.FAILED and last.error_code == PinAttemptsExhausted.code:
        return PinAttemptsExhausted()
    return NoPinRequired()


async def _release(runtime: Runtime, attempt: Attempt) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.lease_owner == _holder(attempt))
            .values(lease_owner=None, lease_expires_at=None)
        )
