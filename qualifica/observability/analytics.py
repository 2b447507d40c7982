"""The analytics catalogue: six events with exact names and typed properties, stored in ``analytics_events``.

An event whose properties do not match its schema raises ``InvalidEvent`` — a bug, caught by tests.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.db import utcnow
from qualifica.observability.models import AnalyticsEvent


class EventName(StrEnum):
    SETUP_SCREEN_VIEWED = "WhatsApp Setup Screen Viewed"
    SIGNUP_STARTED = "Embedded Signup Started"
    SIGNUP_COMPLETED = "Embedded Signup Completed"
    SIGNUP_FAILED = "Embedded Signup Failed"
    SIGNUP_CANCELLED = "Embedded Signup Cancelled"
    DISCONNECTED = "WhatsApp Disconnected"


class _Properties(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NoProperties(_Properties):
    pass


class CompletedProperties(_Properties):
    waba_id: str
    has_existing_number: bool
    time_to_complete_seconds: float


class FailedProperties(_Properties):
    error_code: str
    error_message: str
    step_failed: str


class CancelledProperties(_Properties):
    step_cancelled: str


class DisconnectedProperties(_Properties):
    reason: str


SCHEMAS: dict[EventName, type[_Properties]] = {
    EventName.SETUP_SCREEN_VIEWED: NoProperties,
    EventName.SIGNUP_STARTED: NoProperties,
    EventName.SIGNUP_COMPLETED: CompletedProperties,
    EventName.SIGNUP_FAILED: FailedProperties,
    EventName.SIGNUP_CANCELLED: CancelledProperties,
    EventName.DISCONNECTED: DisconnectedProperties,
}


class InvalidEvent(ValueError):
    pass


def validate(name: EventName, properties: dict[str, Any]) -> dict[str, Any]:
    try:
        return SCHEMAS[name].model_validate(properties).model_dump()
    except ValidationError as error:
        raise InvalidEvent(
            f"'{name}' properties do not match the catalogue: {error.error_count()} error(s)"
        ) from None


async def emit(
    session: AsyncSession,
    name: EventName,
    *,
    organization_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    properties: dict[str, Any] | None = None,
) -> AnalyticsEvent:
    """Record an event in the caller's transaction, so it exists exactly when the change it describes does."""
    event = AnalyticsEvent(
        name=name.value,
        organization_id=organization_id,
        user_id=user_id,
        properties=validate(name, properties or {}),
        occurred_at=utcnow(),
    )
    session.add(event)
    await session.flush()
    return event
