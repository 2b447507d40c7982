"""The lead-qualification assistant's extension point: ``messages`` and every field nobody else handles.

Nothing is dropped. Every change stays in ``webhook_changes`` (routed to its organization when the WABA or
number is known, whatever the connection's status), indexed by ``(organization_id, field)``. The assistant
plugs in here: ``deliver`` runs once per change, inside the transaction that marks the change processed, so
whatever it writes is committed exactly when the change is settled (and retried with it on failure).
"""

from __future__ import annotations

from qualifica.observability.webhook_metrics import WebhookOutcome
from qualifica.webhooks.routing import Context, Handler


async def deliver(context: Context) -> WebhookOutcome:
    """Keep the change for the assistant; unmatched when no connection of ours knows the WABA or number."""
    if context.connection is None:
        return WebhookOutcome.UNMATCHED
    return WebhookOutcome.PROCESSED


# Coexistence's contacts, history and echoes are the assistant's too (reference 2026 §6.2).
HANDLERS: dict[str, Handler] = {
    "messages": deliver,
    "history": deliver,
    "smb_app_state_sync": deliver,
    "smb_message_echoes": deliver,
}
