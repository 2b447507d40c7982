"""What a WhatsApp Business app number shares after onboarding (reference 2026 §6.2).

``smb_app_state_sync`` brings its contacts (the dump after the contact sync request, then live edits),
``history`` its chats of the last months in chunks (or error 2593109 when the business declined), and
``smb_message_echoes`` what the business sends from the app on its phone. Every change stays in
``webhook_changes`` for the assistant, like ``messages``; here the people become contacts (leads), and the
sync's row (``whatsapp_coexistence_syncs``) records that Meta delivered, and how far.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from qualifica.assistant import inbound
from qualifica.db import utcnow
from qualifica.observability.webhook_metrics import WebhookOutcome
from qualifica.webhooks.handlers.messages import deliver, items, number_of
from qualifica.webhooks.routing import Context, Handler
from qualifica.whatsapp.contacts import Identity, remember, timestamp
from qualifica.whatsapp.events import EventType
from qualifica.whatsapp.models import CoexistenceSync, SyncType

HISTORY_DECLINED = 2593109


async def _sync_row(context: Context, sync_type: SyncType) -> CoexistenceSync | None:
    assert context.connection is not None
    row: CoexistenceSync | None = await context.session.scalar(
        select(CoexistenceSync)
        .where(
            CoexistenceSync.connection_id == context.connection.id,
            CoexistenceSync.sync_type == sync_type,
        )
        .order_by(CoexistenceSync.created_at.desc())
        .limit(1)
    )
    if row is not None:
        row.last_delivery_at = utcnow()
    return row


async def _remember(context: Context, identity: Identity, source: str, at: Any = None) -> None:
    assert context.connection is not None
    await remember(
        context.session,
        organization_id=context.connection.organization_id,
        phone_number_id=number_of(context),
        identity=identity,
        source=source,
        inbound_at=timestamp(at) if at is not None else None,
    )


async def contacts(context: Context) -> WebhookOutcome:
    outcome = await deliver(context)
    if context.connection is None:
        return outcome
    await _sync_row(context, SyncType.CONTACTS)
    for item in items(context.value, "state_sync"):
        contact = item.get("contact")
        if item.get("type") != "contact" or item.get("action") != "add" or not isinstance(contact, dict):
            continue  # a removal keeps the lead: its conversations stay the assistant's
        number = "".join(c for c in str(contact.get("phone_number") or "") if c.isdigit())
        identity = Identity.of(None, number, profile_name=contact.get("full_name"))
        await _remember(context, identity, SyncType.CONTACTS.value)
    await inbound.sync_change(
        context.session,
        organization_id=context.connection.organization_id,
        kind=EventType.CONTACTS_SYNCED,
        key="state_sync",
        value=context.value,
    )
    return outcome


async def history(context: Context) -> WebhookOutcome:
    outcome = await deliver(context)
    if context.connection is None:
        return outcome
    row = await _sync_row(context, SyncType.HISTORY)
    for chunk in items(context.value, "history"):
        codes = {error.get("code") for error in items(chunk, "errors")}
        if row is not None and HISTORY_DECLINED in codes:
            row.error_code = str(HISTORY_DECLINED)
        metadata = chunk.get("metadata")
        progress = metadata.get("progress") if isinstance(metadata, dict) else None
        if row is not None and isinstance(progress, int):
            row.progress = max(row.progress or 0, progress)
        for thread in items(chunk, "threads"):
            customer = Identity.of(None, thread.get("id"))
            for message in items(thread, "messages"):
                if message.get("from_user_id") or message.get("from") == thread.get("id"):
                    customer = Identity.of(message.get("from_user_id"), thread.get("id"))
                    break
            await _remember(context, customer, SyncType.HISTORY.value)
    await inbound.sync_change(
        context.session,
        organization_id=context.connection.organization_id,
        kind=EventType.HISTORY_SYNCED,
        key="history",
        value=context.value,
    )
    return outcome


async def echoes(context: Context) -> WebhookOutcome:
    """The business answered from the phone: the person it wrote to is a contact like any other."""
    outcome = await deliver(context)
    if context.connection is None:
        return outcome
    for echo in items(context.value, "message_echoes"):
        await _remember(context, Identity.of(echo.get("to_user_id"), echo.get("to")), "echo")
    await inbound.echoes_change(
        context.session, organization_id=context.connection.organization_id, value=context.value
    )
    return outcome


HANDLERS: dict[str, Handler] = {
    SyncType.CONTACTS.value: contacts,
    SyncType.HISTORY.value: history,
    "smb_message_echoes": echoes,
}
