"""What a handler is given (``Context``) and which connection a change is about: by WABA id, and for
``messages`` by the number's id as well.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.observability.webhook_metrics import WebhookOutcome
from qualifica.runtime import Runtime
from qualifica.webhooks.models import WebhookChange
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection

# A live connection wins over one in error, which wins over a disconnected one; then the newest.
_RANK = {ConnectionStatus.ACTIVE: 0, ConnectionStatus.ERROR: 1, ConnectionStatus.DISCONNECTED: 2}


@dataclass
class Context:
    session: AsyncSession
    runtime: Runtime
    change: WebhookChange
    connection: WhatsAppConnection | None

    @property
    def value(self) -> dict[str, Any]:
        return self.change.value


Handler = Callable[[Context], Awaitable[WebhookOutcome]]


def on_connection(apply: Callable[[Context, WhatsAppConnection], None]) -> Handler:
    """A handler that updates the connection the change is about; unmatched when none of ours knows it."""

    async def handle(context: Context) -> WebhookOutcome:
        if context.connection is None:
            return WebhookOutcome.UNMATCHED
        apply(context, context.connection)
        return WebhookOutcome.PROCESSED

    return handle


def _phone_number_id(change: WebhookChange) -> str | None:
    metadata = change.value.get("metadata")
    if isinstance(metadata, dict) and metadata.get("phone_number_id") is not None:
        return str(metadata["phone_number_id"])[:64]
    return None


async def find_connection(session: AsyncSession, change: WebhookChange) -> WhatsAppConnection | None:
    """The connection the change is about, locked for this transaction (PostgreSQL) against lost updates."""
    for column, key in (
        (WhatsAppConnection.waba_id, change.waba_id),
        (WhatsAppConnection.phone_number_id, _phone_number_id(change)),
    ):
        if key is None:
            continue
        query = select(WhatsAppConnection).where(column == key).with_for_update()
        found = list((await session.scalars(query)).all())
        if found:
            found.sort(key=lambda c: (_RANK[c.status], -c.updated_at.timestamp()))
            return found[0]
    return None
