"""``GET /api/v1/whatsapp/media/{media_id}`` (ARCHITECTURE §15): a file a lead sent, streamed through us.

Only a media id received by the organization (one of its ``message.received`` events) is served; it is
fetched from Meta with the connection's token (``GET /{media_id}``, then its short-lived URL), which never
leaves the service. The bytes are passed on as they arrive, never held whole.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

from sqlalchemy import select

from qualifica.assistant.errors import NotConnected
from qualifica.errors import AppError, NotFound
from qualifica.meta.errors import MetaError
from qualifica.runtime import Runtime
from qualifica.whatsapp.connection_state import readable_token
from qualifica.whatsapp.events import AssistantEvent
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection

CHUNK = 64 * 1024


class MediaUnavailable(AppError):
    code, status = "meta_error", 502
    message = "A Meta não entregou o arquivo agora. Tente de novo em instantes."


@dataclass(frozen=True)
class Download:
    mime_type: str
    chunks: AsyncIterator[bytes]


async def open_media(runtime: Runtime, *, organization_id: uuid.UUID, media_id: str) -> Download:
    async with runtime.sessionmaker() as session:
        received = await session.scalar(
            select(AssistantEvent.id).where(
                AssistantEvent.organization_id == organization_id, AssistantEvent.media_id == media_id
            )
        )
        connection = await session.scalar(
            select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
        )
    if received is None:
        raise NotFound("Arquivo não encontrado.")
    token = readable_token(runtime.ring, connection) if connection is not None else None
    if connection is None or connection.status is ConnectionStatus.DISCONNECTED or not token:
        raise NotConnected
    stack = AsyncExitStack()  # the download stays open while the answer streams, and closes after it
    try:
        info = await runtime.graph.media_url(media_id, token=token)
        answer = await stack.enter_async_context(runtime.graph.download(info.url, token=token))
    except MetaError:
        await stack.aclose()
        raise MediaUnavailable from None

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in answer.aiter_bytes(CHUNK):
                yield chunk
        finally:
            await stack.aclose()

    return Download(info.mime_type or "application/octet-stream", chunks())
