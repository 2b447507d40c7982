"""The customer service window (reference 2026 §5.2): free text may be sent to a lead for 24 h after the
lead's last message to the number. We keep that last inbound time per (organization, number, lead); Meta's
131047 stays the authority when our record and Meta disagree.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.assistant.models import ServiceWindow

SERVICE_WINDOW = timedelta(hours=24)
UNIQUE = ("organization_id", "phone_number_id", "wa_id")


async def note_inbound(
    session: AsyncSession, *, organization_id: uuid.UUID, phone_number_id: str, wa_id: str, at: datetime
) -> None:
    """The lead ``wa_id`` wrote to ``phone_number_id`` at ``at``: the window's start moves forward, never
    back (Meta delivers late and out of order). Flushes; the caller commits."""
    if not wa_id:
        return  # a username user without a phone: no window we can send free text to by number
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ServiceWindow).values(
        id=uuid.uuid4(),
        organization_id=organization_id,
        phone_number_id=phone_number_id,
        wa_id=wa_id,
        last_inbound_at=at,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=UNIQUE,
            set_={"last_inbound_at": statement.excluded.last_inbound_at},
            where=ServiceWindow.last_inbound_at < statement.excluded.last_inbound_at,
        )
    )


async def last_inbound(
    session: AsyncSession, *, organization_id: uuid.UUID, phone_number_id: str, wa_id: str
) -> datetime | None:
    return await session.scalar(
        select(ServiceWindow.last_inbound_at).where(
            ServiceWindow.organization_id == organization_id,
            ServiceWindow.phone_number_id == phone_number_id,
            ServiceWindow.wa_id == wa_id,
        )
    )


def window_open(last: datetime | None, now: datetime) -> bool:
    return last is not None and now - last < SERVICE_WINDOW
