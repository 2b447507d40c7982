"""The analytics catalogue: six events with exact names and typed properties, stored in ``analytics_events``.

An event whose properties do not match its schema raises ``InvalidEvent`` — a bug, caught by tests. Free
text (Meta's error message) is scrubbed of anything shaped like a secret before it is stored, because the
stored properties are delivered as they are to Segment (``observability.delivery``).
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.db import utcnow
from qualifica.logging import REDACTED, scrub_text
from qualifica.observability.models import AnalyticsEvent


class EventName(StrEnum):
    SETUP_SCREEN_VIEWED = "WhatsApp Setup Screen Viewed"
    SIGNUP_STARTED = "Embedded Signup Started"
    SIGNUP_COMPLETED = "Embedded Signup Completed"
    SIGNUP_FAILED = "Embedded Signup Failed"
    SIGNUP_CANCELLED = "Embedded Signup Cancelled"
    DISCONNECTED = "WhatsApp Disconnected"


# Meta user and business access tokens ("EAA..."), in case one ever reaches a message we record.
_META_TOKEN = re.compile(r"\bEAA[A-Za-z0-9]{16,}")


def _scrubbed(text: str) -> str:
    return _META_TOKEN.sub(REDACTED, scrub_text(text))


Label = Annotated[str, StringConstraints(min_length=1)]
FreeText = Annotated[str, AfterValidator(_scrubbed)]


class _Properties(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NoProperties(_Properties):
    pass


class CompletedProperties(_Properties):
    waba_id: Label
    has_existing_number: bool
    time_to_complete_seconds: float


class FailedProperties(_Properties):
    error_code: Label  # always text: Meta's numeric codes as "133005", our stable codes as "invalid_state"
    error_message: FreeText
    step_failed: Label


class CancelledProperties(_Properties):
    step_cancelled: Label


class DisconnectedProperties(_Properties):
    reason: Annotated[FreeText, StringConstraints(min_length=1)]  # the reason given, or "unspecified"


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
