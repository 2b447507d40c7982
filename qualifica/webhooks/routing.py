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
    """The connection the change is about, locked for this transaction (PostgreSQL) against lost updates.

    The holder, when there is one: the single connection that is not ``disconnected`` for the WABA (or,
    for ``messages``, the number) — never merely the newest row. Held by nobody, the change belongs to
    whoever let it go last (the latest disconnected), so a lead written after a disconnect is kept.
    """
    for column, key in (
        (WhatsAppConnection.waba_id, change.waba_id),
        (WhatsAppConnection.phone_number_id, _phone_number_id(change)),
    ):
        if key is None:
            continue
        held = WhatsAppConnection.status != ConnectionStatus.DISCONNECTED
        for query in (
            # rows older than the unique indexes may share a WABA: the first holder keeps it
            select(WhatsAppConnection).where(column == key, held).order_by(WhatsAppConnection.connected_at),
            select(WhatsAppConnection)
            .where(column == key)
            .order_by(WhatsAppConnection.disconnected_at.desc().nulls_last()),
        ):
            found = await session.scalar(query.limit(1).with_for_update())
            if found is not None:
                return found
    return None
