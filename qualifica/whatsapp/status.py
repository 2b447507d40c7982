"""What the page, the checklist and the status endpoint say about an organization's connection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection


@dataclass(frozen=True)
class ConnectionView:
    status: str  # not_connected | connecting | pin_required | active | disconnected | error
    connection: WhatsAppConnection | None

    @property
    def is_connected(self) -> bool:
        return self.status == ConnectionStatus.ACTIVE


async def connection_view(session: AsyncSession, *, organization_id: uuid.UUID) -> ConnectionView:
    connection = await session.scalar(
        select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
    )
    if connection is None:
        return ConnectionView(status="not_connected", connection=None)
    return ConnectionView(status=connection.status.value, connection=connection)
