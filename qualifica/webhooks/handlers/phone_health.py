"""Health fields from Meta's notifications: quality and limits, display-name decisions, account review."""

from __future__ import annotations

import re
from typing import Any

from qualifica.webhooks.routing import Context, Handler, on_connection
from qualifica.whatsapp.connection_state import clear_warning, set_warning
from qualifica.whatsapp.models import WhatsAppConnection

# Meta's name decision → the phone number's ``name_status`` as Graph reports it.
NAME_STATUS = {
    "APPROVED": "APPROVED",
    "REJECTED": "DECLINED",
    "PENDING": "PENDING_REVIEW",
    "DEFERRED": "DEFERRED",
}


def _digits(value: object) -> str:
    return re.sub(r"\D", "", str(value or ""))


def _same_number(connection: WhatsAppConnection, value: dict[str, Any]) -> bool:
    """Notifications about another number of the same WABA leave this connection alone."""
    sent, ours = _digits(value.get("display_phone_number")), _digits(connection.display_phone_number)
    return not sent or not ours or sent == ours


def _merge_health(connection: WhatsAppConnection, **values: Any) -> None:
    present = {key: value for key, value in values.items() if value is not None}
    if present:
        connection.health = {**(connection.health or {}), **present}


def _quality(context: Context, connection: WhatsAppConnection) -> None:
    value = context.value
    if not _same_number(connection, value):
        return
    limit = value.get("max_daily_conversations_per_business") or value.get("current_limit")
    if isinstance(limit, str):
        connection.messaging_limit = limit[:32]
    event = value.get("event")
    _merge_health(connection, quality_event=event)
    if event == "FLAGGED":
        message = "A Meta sinalizou a qualidade do número como baixa; o limite de mensagens pode cair."
        set_warning(
            connection, "quality_flagged", message, source="webhook", since=context.change.occurred_at
        )
    elif event in ("UNFLAGGED", "UPGRADE", "ONBOARDING", "THROUGHPUT_UPGRADE"):
        clear_warning(connection, "quality_flagged")


def _name(context: Context, connection: WhatsAppConnection) -> None:
    value = context.value
    if not _same_number(connection, value):
        return
    decision = str(value.get("decision") or "")
    if decision in NAME_STATUS:
        connection.name_status = NAME_STATUS[decision]
    requested = value.get("requested_verified_name")
    if decision == "APPROVED":
        if isinstance(requested, str) and requested:
            connection.verified_name = requested[:255]
        clear_warning(connection, "name_rejected")
    elif decision == "REJECTED":
        reason = value.get("rejection_reason") or "motivo não informado"
        message = f'A Meta recusou o nome de exibição "{requested or ""}" ({reason}).'
        set_warning(connection, "name_rejected", message, source="webhook", since=context.change.occurred_at)


def _review(context: Context, connection: WhatsAppConnection) -> None:
    decision = context.value.get("decision")
    _merge_health(connection, account_review_status=decision)
    if decision == "REJECTED":
        message = (
            "A Meta recusou a análise da conta do WhatsApp Business. Verifique o Gerenciador do WhatsApp."
        )
        set_warning(connection, "account_review_rejected", message, source="webhook")
    elif decision == "APPROVED":
        clear_warning(connection, "account_review_rejected")


def _capability(context: Context, connection: WhatsAppConnection) -> None:
    value = context.value
    limit = value.get("max_daily_conversations_per_business")
    if isinstance(limit, str):
        connection.messaging_limit = limit[:32]
    _merge_health(
        connection,
        max_phone_numbers_per_business=value.get("max_phone_numbers_per_business"),
        max_phone_numbers_per_waba=value.get("max_phone_numbers_per_waba"),
    )


HANDLERS: dict[str, Handler] = {
    "phone_number_quality_update": on_connection(_quality),
    "phone_number_name_update": on_connection(_name),
    "account_review_update": on_connection(_review),
    "business_capability_update": on_connection(_capability),
}
