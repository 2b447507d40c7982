"""The cursor over an organization's events (ARCHITECTURE §15): ``GET /api/v1/whatsapp/events``.

The cursor is the last event's sequence number in the organization, as text; the walk is oldest first and
sees each event once (``whatsapp.events`` orders an organization's sequence by commit).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from qualifica.errors import InvalidRequest
from qualifica.runtime import Runtime
from qualifica.whatsapp.events import AssistantEvent

MAX_LIMIT = 100


class Event(BaseModel):
    id: str
    type: str
    organization_id: str
    occurred_at: datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    events: list[Event]
    next_cursor: str


def parse_cursor(after: str | None) -> int:
    if after is None or after == "":
        return 0
    if not after.isdigit() or len(after) > 18:
        raise InvalidRequest("O cursor (after) não é válido: use o next_cursor da página anterior.")
    return int(after)


def event_of(row: AssistantEvent) -> Event:
    return Event(
        id=str(row.id),
        type=row.type,
        organization_id=str(row.organization_id),
        occurred_at=row.occurred_at,
        data=row.data,
    )


async def page(runtime: Runtime, *, organization_id: uuid.UUID, after: str | None, limit: int) -> EventPage:
    cursor = parse_cursor(after)
    async with runtime.sessionmaker() as session:
        rows = list(
            await session.scalars(
                select(AssistantEvent)
                .where(AssistantEvent.organization_id == organization_id, AssistantEvent.seq > cursor)
                .order_by(AssistantEvent.seq)
                .limit(limit)
            )
        )
    next_cursor = str(rows[-1].seq) if rows else str(cursor)
    return EventPage(events=[event_of(row) for row in rows], next_cursor=next_cursor)
