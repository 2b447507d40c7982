"""How an attempt ends: saved as a connection, failed, waiting for the admin's PIN, or postponed.

Each ending is one transaction that also writes the audit log and the analytics event, so they exist
exactly when the ending does. The answer given to the browser (an ``AttemptOutcome``) is stored with it and
replayed to a duplicate callback.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica import audit
from qualifica.db import utcnow
from qualifica.errors import AppError, ErrorEnvelope, envelope_json
from qualifica.jobs.leases import LeaseLost, database_now, write_holding
from qualifica.meta.models import PhoneNumber, Waba
from qualifica.observability import signup_metrics
from qualifica.observability.analytics import EventName, emit
from qualifica.runtime import Runtime
from qualifica.security.crypto import seal
from qualifica.whatsapp import ownership
from qualifica.whatsapp.attempts import RETRY, Attempt
from qualifica.whatsapp.catalogue import METRIC_ERROR_CODE
from qualifica.whatsapp.connection_state import tell_assistant
from qualifica.whatsapp.mail.models import MailKind
from qualifica.whatsapp.mail.outbox import change_moment, enqueue
from qualifica.whatsapp.models import (
    AttemptStatus,
    CoexistenceSync,
    ConnectionStatus,
    SyncStatus,
    SyncType,
    WhatsAppConnection,
)
from qualifica.whatsapp.schemas import CallbackDone, CallbackPending, Choices, Pending
from qualifica.whatsapp.steps import METRIC_STEP, PipelineStep

# The ending's ``outcome`` on the callback histogram (ARCHITECTURE §10, plus §14's waits for the admin);
# the route adds ``rejected``.
Ending = Literal[
    "completed",
    "processing",
    "pin_required",
    "choice_required",
    "verification_required",
    "number_required",
    "failed",
]
# The endings that wait for the admin, and the attempt status each leaves behind.
WAITING: dict[Pending, AttemptStatus] = {
    "pin_required": AttemptStatus.PIN_REQUIRED,
    "choice_required": AttemptStatus.CHOICE_REQUIRED,
    "verification_required": AttemptStatus.VERIFICATION_REQUIRED,
    "number_required": AttemptStatus.NUMBER_REQUIRED,
}


@dataclass(frozen=True)
class AttemptOutcome:
    """The answer an attempt gives the browser: its status, its typed body and its metric label."""

    status_code: int
    body: CallbackDone | CallbackPending | ErrorEnvelope
    label: Ending

    @classmethod
    def completed(cls, connection_id: uuid.UUID) -> AttemptOutcome:
        return cls(200, CallbackDone(connection_id=str(connection_id)), "completed")

    @classmethod
    def pending(
        cls, attempt_id: uuid.UUID, status: Pending, choices: Choices | None = None
    ) -> AttemptOutcome:
        body = CallbackPending(status=status, attempt_id=str(attempt_id), choices=choices)
        return cls(202, body, status)

    @classmethod
    def failed(cls, error: AppError) -> AttemptOutcome:
        return cls(error.status, error.envelope(), "failed")

    def content(self) -> dict[str, Any]:
        """The body as sent (and stored): absent keys stay absent."""
        if isinstance(self.body, ErrorEnvelope):
            return envelope_json(self.body)
        if isinstance(self.body, CallbackPending):
            return self.body.content()
        return self.body.model_dump(mode="json")

    def as_json(self) -> dict[str, Any]:
        return {"status_code": self.status_code, "body": self.content()}

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> AttemptOutcome:
        status_code, body = int(stored["status_code"]), stored["body"]
        if status_code == 200:
            return cls(200, CallbackDone.model_validate(body), "completed")
        if status_code == 202:
            pending = CallbackPending.model_validate(body)
            return cls(202, pending, pending.status)
        return cls(status_code, ErrorEnvelope.model_validate(body), "failed")


class StepFailure(Exception):
    """A step failed for good: ``error`` is what the browser gets, ``analytics_code`` what events record."""

    def __init__(self, step: PipelineStep, error: AppError, *, analytics_code: str) -> None:
        self.step = step
        self.error = error
        self.analytics_code = analytics_code
        super().__init__(f"{step}: {error.code}")


@dataclass(frozen=True)
class Saved:
    token: str
    token_expires_at: datetime | None
    pin: str | None
    phone: PhoneNumber
    waba: Waba
    has_existing_number: bool
    coexistence: bool = False  # a WhatsApp Business app number: its two syncs are requested next


async def _locked_attempt(session: AsyncSession, holder: str, attempt_id: uuid.UUID) -> Attempt:
    attempt = await session.scalar(
        select(Attempt)
        .where(Attempt.id == attempt_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if attempt is None or attempt.lease_owner != holder:
        raise LeaseLost
    return attempt


def _finish(attempt: Attempt, status: AttemptStatus, outcome: AttemptOutcome) -> None:
    attempt.status = status
    attempt.response = outcome.as_json()
    attempt.finished_at = utcnow()
    attempt.lease_owner = None
    attempt.lease_expires_at = None


async def complete(
    runtime: Runtime, attempt_id: uuid.UUID, saved: Saved, *, holder: str, attempt: Attempt | None = None
) -> AttemptOutcome:
    """Upsert the organization's connection (the token re-sealed for its new row) and close the attempt.

    ``attempt`` is the runner's copy (its identity columns never change after the claim). The save is on
    the callback's critical path, so the transaction starts with a compare-and-set UPDATE guarded by the
    lease rather than a ``FOR UPDATE`` re-select: the same row lock and the same check in one statement.
    """
    try:
        return await _complete(runtime, attempt_id, saved, holder=holder, attempt=attempt)
    except IntegrityError as error:
        if ownership.violates_holding(error):
            raise ownership.InUse from None  # another organization saved the WABA or number meanwhile
        # A concurrent save inserted the organization's row first: under its lock the second round sees
        # it, and refuses if that save came from a later attempt.
        return await _complete(runtime, attempt_id, saved, holder=holder, attempt=attempt)


async def _complete(
    runtime: Runtime, attempt_id: uuid.UUID, saved: Saved, *, holder: str, attempt: Attempt | None
) -> AttemptOutcome:
    async with runtime.sessionmaker() as session, session.begin():
        if attempt is None:
            attempt = await session.get(Attempt, attempt_id)
            if attempt is None:
                raise LeaseLost
        connection = await session.scalar(
            select(WhatsAppConnection)
            .where(WhatsAppConnection.organization_id == attempt.organization_id)
            .with_for_update()
        )
        # Under the organization row's lock: a later attempt's connection is never replaced, and a WABA or
        # number another organization holds is never taken (the unique indexes catch a racing insert).
        await ownership.refuse_unless_newest(session, attempt, connection)
        if await ownership.held_elsewhere(
            session,
            organization_id=attempt.organization_id,
            waba_id=saved.waba.id,
            phone_number_id=saved.phone.id,
        ):
            raise ownership.InUse
        # §16: an admin reconnecting after an error tells the other admins, as Meta's reconnection would
        back_from_error = connection is not None and connection.status == ConnectionStatus.ERROR
        if connection is None:  # added to the session once filled in (the UPDATE below autoflushes)
            connection = WhatsAppConnection(id=uuid.uuid4(), organization_id=attempt.organization_id)
        now = utcnow()
        outcome = AttemptOutcome.completed(connection.id)
        # another runner holds it: LeaseLost, and the rollback undoes the connection too
        await write_holding(
            session,
            update(Attempt)
            .where(Attempt.id == attempt_id, Attempt.lease_owner == holder)
            .values(
                status=AttemptStatus.COMPLETED,
                response=outcome.as_json(),
                finished_at=now,
                updated_at=now,
                lease_owner=None,
                lease_expires_at=None,
                connection_id=connection.id,
                has_existing_number=saved.has_existing_number,
                # the connection holds the secrets; the closed attempt keeps no copy
                access_token=None,
                registration_pin=None,
            )
            .execution_options(synchronize_session=False),
        )
        phone, waba = saved.phone, saved.waba
        connection.waba_id = waba.id
        connection.phone_number_id = phone.id
        connection.display_phone_number = phone.display_phone_number
        connection.business_name = waba.business_name
        connection.business_id = (
            waba.owner_business_info.id if waba.owner_business_info else attempt.business_id
        )
        connection.verified_name = phone.verified_name
        connection.access_token = seal(runtime.ring, connection, "access_token", saved.token)
        connection.registration_pin = (
            seal(runtime.ring, connection, "registration_pin", saved.pin) if saved.pin else None
        )
        connection.token_expires_at = saved.token_expires_at
        connection.status = ConnectionStatus.ACTIVE
        connection.error_code = connection.error_message = None
        connection.connected_at, connection.disconnected_at = now, None
        connection.has_existing_number = saved.has_existing_number
        connection.signup_event = attempt.event
        connection.last_attempt_id = attempt.id
        connection.quality_rating = phone.quality_rating
        connection.name_status = phone.name_status
        connection.messaging_limit = phone.messaging_limit_tier
        connection.code_verification_status = phone.code_verification_status
        connection.platform_type = phone.platform_type
        connection.health = {"health_status": phone.health_status, "status": phone.status}
        connection.health_warnings = []
        session.add(connection)
        connection.updated_at = now
        await session.flush()  # the connection row exists before its event names its organization
        await tell_assistant(session, connection)
        if back_from_error:
            await enqueue(session, connection, MailKind.RECONNECTED, change_moment(now))
        if saved.coexistence:
            await session.flush()  # the connection row exists before the syncs that reference it
            session.add_all(
                CoexistenceSync(
                    organization_id=attempt.organization_id,
                    connection_id=connection.id,
                    attempt_id=attempt.id,
                    phone_number_id=phone.id,
                    sync_type=sync_type,
                    position=position,
                    status=SyncStatus.PENDING,
                    attempts=0,
                )
                for position, sync_type in enumerate(SyncType, start=1)
            )
        seconds = round((now - attempt.started_at).total_seconds(), 3)
        await audit_attempt(
            session, attempt, "whatsapp.connect", "success", waba_id=waba.id, phone_number_id=phone.id
        )
        await emit(
            session,
            EventName.SIGNUP_COMPLETED,
            organization_id=attempt.organization_id,
            user_id=attempt.user_id,
            properties={
                "waba_id": waba.id,
                "has_existing_number": saved.has_existing_number,
                "time_to_complete_seconds": seconds,
            },
        )
    signup_metrics.completed(has_existing_number=saved.has_existing_number, seconds=seconds)
    return outcome


async def fail(
    runtime: Runtime, attempt_id: uuid.UUID, failure: StepFailure, *, holder: str
) -> AttemptOutcome:
    """Close the attempt as failed and wipe the token it held: nothing half-saved, nothing kept."""
    outcome = AttemptOutcome.failed(failure.error)
    async with runtime.sessionmaker() as session, session.begin():
        attempt = await _locked_attempt(session, holder, attempt_id)
        _finish(attempt, AttemptStatus.FAILED, outcome)
        attempt.step_failed = failure.step
        attempt.error_code = failure.error.code
        attempt.error_message = failure.error.detail
        attempt.access_token = attempt.registration_pin = None
        await record_failure(session, attempt, failure.analytics_code, failure.error.detail, failure.step)
    return outcome


async def audit_attempt(
    session: AsyncSession, attempt: Attempt, action: str, status: str, **details: str
) -> None:
    """An audit row for what happened to an attempt, by the admin who started it, from where they were."""
    await audit.record(
        session,
        organization_id=attempt.organization_id,
        actor_user_id=attempt.user_id,
        action=action,
        status=status,
        ip_address=attempt.ip_address,
        user_agent=attempt.user_agent,
        details={"attempt_id": str(attempt.id), **details},
    )


async def record_failure(
    session: AsyncSession, attempt: Attempt, analytics_code: str, message: str, step: str
) -> None:
    await audit_attempt(
        session, attempt, "whatsapp.connect_failed", "failed", error_code=analytics_code, step=step
    )
    await emit(
        session,
        EventName.SIGNUP_FAILED,
        organization_id=attempt.organization_id,
        user_id=attempt.user_id,
        properties={"error_code": analytics_code, "error_message": message, "step_failed": step},
    )
    signup_metrics.failed(error_code=METRIC_ERROR_CODE(analytics_code), step=METRIC_STEP(step))


async def require_pin(runtime: Runtime, attempt_id: uuid.UUID, *, holder: str) -> AttemptOutcome:
    """Meta said 133005: keep the token, wait for the number's existing two-step PIN."""
    outcome = AttemptOutcome.pending(attempt_id, "pin_required")
    async with runtime.sessionmaker() as session, session.begin():
        attempt = await _locked_attempt(session, holder, attempt_id)
        _finish(attempt, AttemptStatus.PIN_REQUIRED, outcome)
        attempt.finished_at = None
        attempt.registration_pin = None  # ours was wrong; the admin's comes next
        attempt.error_code = "pin_mismatch"
    return outcome


async def wait_for_admin(
    runtime: Runtime,
    attempt_id: uuid.UUID,
    status: Pending,
    *,
    holder: str,
    choices: Choices | None = None,
    step_results: dict[str, Any] | None = None,
) -> AttemptOutcome:
    """The signup needs the admin (a choice, the number's code, a number): keep the sealed token, release
    the lease, and answer 202 with what is awaited. ``choose``, ``verification`` and ``number`` go on."""
    outcome = AttemptOutcome.pending(attempt_id, status, choices)
    async with runtime.sessionmaker() as session, session.begin():
        attempt = await _locked_attempt(session, holder, attempt_id)
        _finish(attempt, WAITING[status], outcome)
        attempt.finished_at = None
        if step_results is not None:
            attempt.step_results = step_results
    return outcome


async def postpone(
    runtime: Runtime,
    attempt_id: uuid.UUID,
    *,
    holder: str,
    wait: timedelta | None = None,
    step: str | None = None,
) -> bool:
    """Meta stayed unavailable: release the lease until a backoff has passed. False when out of tries.

    ``wait`` overrides the backoff (a rate limit says how long to stay away); ``step`` is the marker the
    status shows meanwhile.
    """
    async with runtime.sessionmaker() as session, session.begin():
        attempt = await _locked_attempt(session, holder, attempt_id)
        if RETRY.exhausted(attempt.resume_count):
            return False
        attempt.lease_owner = None
        # the database's clock
        attempt.lease_expires_at = database_now(wait or RETRY.delay(attempt.resume_count + 1))
        if step is not None:
            attempt.step = step
    return True
