"""Reading a sent message back (``GET /api/v1/whatsapp/messages/{id}``): its status, error and history."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from qualifica.assistant.errors import MessageNotFound
from qualifica.assistant.models import OutboundMessage
from qualifica.assistant.schemas import HistoryItem, MessageError, MessageView
from qualifica.runtime import Runtime


def view_of(message: OutboundMessage) -> MessageView:
    error = (
        MessageError(code=message.error_code, message=message.error_message or "")
        if message.error_code is not None
        else None
    )
    return MessageView(
        id=message.id,
        wamid=message.wamid,
        to=message.recipient,
        status=message.status,
        error=error,
        history=[HistoryItem.model_validate(item) for item in message.history or []],
    )


async def message_view(runtime: Runtime, *, organization_id: uuid.UUID, message_id: uuid.UUID) -> MessageView:
    """The organization's message (another organization's id is not found, as an unknown one is)."""
    async with runtime.sessionmaker() as session:
        message = await session.scalar(
            select(OutboundMessage).where(
                OutboundMessage.id == message_id, OutboundMessage.organization_id == organization_id
            )
        )
    if message is None:
        raise MessageNotFound
    return view_of(message)
