"""What the page, the checklist and the status endpoint say about an organization's connection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.errors import ErrorEnvelope
from qualifica.observability.exposition import LabelledGauge
from qualifica.whatsapp.catalogue import explain_flow_code
from qualifica.whatsapp.models import (
    AttemptStatus,
    ConnectionStatus,
    EmbeddedSignupAttempt,
    WhatsAppConnection,
)
from qualifica.whatsapp.outcomes import AttemptOutcome
from qualifica.whatsapp.schemas import (
    CallbackPending,
    Choices,
    ConnectionOut,
    ErrorOut,
    PhoneChoice,
    StatusResponse,
)

# The attempt statuses that wait for the admin, by the status the endpoint reports for each.
WAITING = {
    AttemptStatus.PIN_REQUIRED: "pin_required",
    AttemptStatus.CHOICE_REQUIRED: "choice_required",
    AttemptStatus.VERIFICATION_REQUIRED: "verification_required",
    AttemptStatus.NUMBER_REQUIRED: "number_required",
}


@dataclass(frozen=True)
class ConnectionView:
    # not_connected | connecting | pin_required | choice_required | verification_required |
    # number_required | active | disconnected | error
    status: str
    connection: WhatsAppConnection | None
    attempt: EmbeddedSignupAttempt | None
    error: ErrorOut | None

    @property
    def is_connected(self) -> bool:
        return self.status == ConnectionStatus.ACTIVE


async def connection_view(session: AsyncSession, *, organization_id: uuid.UUID) -> ConnectionView:
    # The attempt first: each statement sees what was committed when it ran (READ COMMITTED), and a run
    # commits its connection no later than its attempt's end. Read the other way round, a run finishing in
    # between would show an ended attempt and no connection yet: "not_connected" for a moment.
    attempt = await session.scalar(
        select(EmbeddedSignupAttempt)
        .where(
            EmbeddedSignupAttempt.organization_id == organization_id,
            EmbeddedSignupAttempt.status != AttemptStatus.STARTED,
        )
        .order_by(EmbeddedSignupAttempt.created_at.desc())
        .limit(1)
    )
    connection = await session.scalar(
        select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
    )
    if attempt is not None and attempt.status is AttemptStatus.PROCESSING:
        return ConnectionView("connecting", connection, attempt, None)
    if attempt is not None and attempt.status in WAITING:
        return ConnectionView(WAITING[attempt.status], connection, attempt, None)
    error = None
    if connection is not None and connection.status is ConnectionStatus.ERROR:
        error = ErrorOut(code=connection.error_code or "error", message=connection.error_message or "")
    elif (
        attempt is not None
        and attempt.status is AttemptStatus.FAILED
        and (connection is None or connection.status is not ConnectionStatus.ACTIVE)
        and (connection is None or attempt.created_at > connection.updated_at)
    ):
        error = attempt_error(attempt)
    status = connection.status.value if connection is not None else "not_connected"
    return ConnectionView(status, connection, attempt, error)


def attempt_error(attempt: EmbeddedSignupAttempt) -> ErrorOut:
    """The answer the browser got, or for an error the popup reported, the catalogue's reading of it."""
    answered = AttemptOutcome.from_json(attempt.response).body if attempt.response else None
    if isinstance(answered, ErrorEnvelope):
        error = answered.error
        return ErrorOut(code=error.code, message=error.message, hint=error.hint)
    explanation = explain_flow_code(attempt.error_code)
    return ErrorOut(
        code=explanation.code if explanation else "meta_flow_error",
        message=attempt.error_message or "",
        hint=explanation.hint if explanation else None,
    )


def status_response(view: ConnectionView) -> StatusResponse:
    attempt, running = view.attempt, view.status == "connecting" or view.status in WAITING.values()
    return StatusResponse(
        status=view.status,
        connection=ConnectionOut.model_validate(view.connection) if view.connection is not None else None,
        error=view.error,
        attempt_id=str(attempt.id) if attempt is not None and running else None,
        step=attempt.step if attempt is not None and view.status == "connecting" else None,
        choices=choices_of(attempt) if view.status == "choice_required" else None,
        phone_number=waiting_number(attempt) if view.status == "verification_required" else None,
    )


def choices_of(attempt: EmbeddedSignupAttempt | None) -> Choices | None:
    """The choices the callback (or ``choose``) answered, as stored for replay."""
    answered = AttemptOutcome.from_json(attempt.response).body if attempt and attempt.response else None
    return answered.choices if isinstance(answered, CallbackPending) else None


def waiting_number(attempt: EmbeddedSignupAttempt | None) -> PhoneChoice | None:
    """The number that waits for its verification code."""
    phone = ((attempt.step_results or {}).get("phone") if attempt else None) or {}
    if not isinstance(phone, dict) or "id" not in phone:
        return None
    return PhoneChoice.model_validate(phone)


async def connections_by_status(session: AsyncSession) -> dict[str, int]:
    """Every status present, zero included, so dashboards always have a series per status."""
    rows = await session.execute(
        select(WhatsAppConnection.status, func.count()).group_by(WhatsAppConnection.status)
    )
    counts = {status.value: 0 for status in ConnectionStatus}
    counts.update({ConnectionStatus(status).value: int(count) for status, count in rows})
    return counts


def connections_gauge(counts: dict[str, int]) -> LabelledGauge:
    return LabelledGauge("qualifica_whatsapp_connections", "WhatsApp connections by status", "status", counts)


async def read_connections_gauge(session: AsyncSession) -> LabelledGauge:
    """``qualifica_whatsapp_connections{status}``, read just before each scrape."""
    return connections_gauge(await connections_by_status(session))
