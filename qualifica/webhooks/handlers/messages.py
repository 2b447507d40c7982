"""The lead-qualification assistant's extension point: ``messages`` and every field nobody else handles.

Nothing is dropped. Every change stays in ``webhook_changes`` (routed to its organization when the WABA or
number is known, whatever the connection's status), indexed by ``(organization_id, field)``. The assistant
plugs in here: ``deliver`` runs once per change, inside the transaction that marks the change processed, so
whatever it writes is committed exactly when the change is settled (and retried with it on failure).

``messages`` also keeps who wrote (``whatsapp_contacts``): by Meta's business-scoped user id and, when
sent, the phone (``wa_id``), following the system messages that change either (reference 2026 §5.9).
"""

from __future__ import annotations

from typing import Any

from qualifica.assistant import inbound
from qualifica.observability.webhook_metrics import WebhookOutcome
from qualifica.webhooks.routing import Context, Handler
from qualifica.whatsapp.contacts import Identity, change_identity, remember, timestamp

CHANGED_NUMBER = "user_changed_number"
CHANGED_USER_ID = "user_changed_user_id"


async def deliver(context: Context) -> WebhookOutcome:
    """Keep the change for the assistant; unmatched when no connection of ours knows the WABA or number."""
    if context.connection is None:
        return WebhookOutcome.UNMATCHED
    return WebhookOutcome.PROCESSED


def number_of(context: Context) -> str:
    """Our number the change is about (its metadata), else the connection's."""
    assert context.connection is not None
    metadata = context.value.get("metadata")
    sent = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    return str(sent)[:64] if sent else context.connection.phone_number_id


def items(value: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = value.get(key)
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


async def receive(context: Context) -> WebhookOutcome:
    """Inbound messages: remember each sender by BSUID and phone; system messages move their ids."""
    outcome = await deliver(context)
    if context.connection is None:
        return outcome
    organization_id, phone_number_id = context.connection.organization_id, number_of(context)
    profiles = {
        (contact.get("user_id") or contact.get("wa_id")): contact
        for contact in items(context.value, "contacts")
    }
    for message in items(context.value, "messages"):
        sender = Identity.of(message.get("from_user_id"), message.get("from"))
        system = message.get("system")
        if message.get("type") == "system" and isinstance(system, dict):
            if system.get("type") in (CHANGED_NUMBER, CHANGED_USER_ID):
                new = Identity.of(system.get("user_id"), system.get("wa_id") or system.get("new_wa_id"))
                await change_identity(
                    context.session,
                    organization_id=organization_id,
                    phone_number_id=phone_number_id,
                    old=sender,
                    new=new,
                )
            continue
        profile = profiles.get(sender.user_id) or profiles.get(sender.wa_id) or {}
        name = (
            (profile.get("profile") or {}).get("name") if isinstance(profile.get("profile"), dict) else None
        )
        identity = Identity.of(
            sender.user_id or profile.get("user_id"),
            sender.wa_id or profile.get("wa_id"),
            username=profile.get("username"),
            profile_name=name,
        )
        await remember(
            context.session,
            organization_id=organization_id,
            phone_number_id=phone_number_id,
            identity=identity,
            source="messages",
            inbound_at=timestamp(message.get("timestamp")),
        )
    # §15: the assistant's events (received messages, statuses of ours), once each
    await inbound.messages_change(
        context.session, organization_id=organization_id, phone_number_id=phone_number_id, value=context.value
    )
    return outcome


HANDLERS: dict[str, Handler] = {"messages": receive}
