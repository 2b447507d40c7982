"""``account_update``: Meta granting access, taking it away, or restricting the account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from qualifica.logging import get_logger
from qualifica.meta.dates import pt_br_date
from qualifica.meta.errors import MetaError
from qualifica.observability.webhook_metrics import WebhookOutcome
from qualifica.webhooks.models import WebhookChange
from qualifica.webhooks.routing import Context, Handler
from qualifica.whatsapp.connection_state import (
    clear_warning,
    mark_active,
    mark_error,
    readable_token,
    set_warning,
)
from qualifica.whatsapp.models import (
    AttemptStatus,
    ConnectionStatus,
    EmbeddedSignupAttempt,
    WhatsAppConnection,
)
from qualifica.whatsapp.ownership import waba_confirmed

log = get_logger(__name__)

REVOKED = {
    "PARTNER_APP_UNINSTALLED": "app_uninstalled",
    "PARTNER_REMOVED": "partner_removed",
    "ACCOUNT_DELETED": "account_deleted",
}
GRANTED = frozenset({"PARTNER_ADDED", "PARTNER_APP_INSTALLED"})
BAN_DATE = "waba_ban_date"


async def handle(context: Context) -> WebhookOutcome:
    event = str(context.value.get("event") or "")
    connection = context.connection
    if connection is not None and _before_connected(context.change, connection):
        # Meta retries an event for days: one about the connection this replaced (an uninstall before the
        # reconnect) is kept in the inbox and changes nothing.
        log.info("webhook.late_account_event_ignored", meta_event=event, connection_id=str(connection.id))
        return WebhookOutcome.PROCESSED
    if event in GRANTED:
        return await _granted(context, event)
    if connection is None:
        return WebhookOutcome.UNMATCHED
    if event in REVOKED:
        extra = {k: context.value[k] for k in ("disconnection_info",) if k in context.value}
        await mark_error(
            context.session, connection, code=REVOKED[event], source="webhook", event=event, **extra
        )
    elif event in WARNINGS:
        WARNINGS[event](context, connection)
    return WebhookOutcome.PROCESSED


def _before_connected(change: WebhookChange, connection: WhatsAppConnection) -> bool:
    """``entry.time`` (whole seconds) earlier than the connection's ``connected_at`` (to the second)."""
    occurred, connected = change.occurred_at, connection.connected_at
    if occurred is None or connected is None:
        return False
    return occurred < connected.replace(microsecond=0)


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _disabled(context: Context, connection: WhatsAppConnection) -> None:
    info = _object(context.value.get("ban_info"))
    raw_date = info.get(BAN_DATE)
    state, date = info.get("waba_ban_state"), pt_br_date(raw_date) if raw_date else "data não informada"
    since = context.change.occurred_at
    clear_warning(connection, "account_disabled", "account_disable_scheduled")
    if state == "DISABLE":
        message = (
            f"A Meta desativou a conta do WhatsApp Business ({date}). Verifique o Gerenciador do WhatsApp."
        )
        set_warning(connection, "account_disabled", message, source="webhook", since=since, details=info)
    elif state == "SCHEDULE_FOR_DISABLE":
        message = f"A Meta programou a desativação da conta do WhatsApp Business para {date}."
        set_warning(
            connection, "account_disable_scheduled", message, source="webhook", since=since, details=info
        )


def _restricted(context: Context, connection: WhatsAppConnection) -> None:
    restrictions = context.value.get("restriction_info")
    restrictions = [r for r in restrictions if isinstance(r, dict)] if isinstance(restrictions, list) else []
    if not restrictions:
        clear_warning(connection, "account_restricted")
        return
    kinds = ", ".join(str(r.get("restriction_type")) for r in restrictions)
    message = f"A Meta restringiu a conta do WhatsApp Business: {kinds}."
    details = {"restriction_info": restrictions}
    since = context.change.occurred_at
    set_warning(connection, "account_restricted", message, source="webhook", since=since, details=details)


def _violation(context: Context, connection: WhatsAppConnection) -> None:
    info = _object(context.value.get("violation_info"))
    kind = info.get("violation_type") or "não informada"
    message = f"A Meta registrou uma violação de política na conta do WhatsApp Business ({kind})."
    since = context.change.occurred_at
    set_warning(connection, "account_violation", message, source="webhook", since=since, details=info)


def _offboarded(context: Context, connection: WhatsAppConnection) -> None:
    message = "O número saiu da plataforma de nuvem da Meta (troca de aparelho ou novo registro)."
    set_warning(connection, "account_offboarded", message, source="webhook", since=context.change.occurred_at)


def _reconnected(_: Context, connection: WhatsAppConnection) -> None:
    clear_warning(connection, "account_offboarded")


# Account problems that do not cut the connection off: shown on the page until Meta lifts them.
WARNINGS: dict[str, Callable[[Context, WhatsAppConnection], None]] = {
    "DISABLED_UPDATE": _disabled,
    "ACCOUNT_RESTRICTION": _restricted,
    "ACCOUNT_VIOLATION": _violation,
    "ACCOUNT_OFFBOARDED": _offboarded,
    "ACCOUNT_RECONNECTED": _reconnected,
}


async def _granted(context: Context, event: str) -> WebhookOutcome:
    """Access granted: confirm a connection in error still works, or hurry the signup still running."""
    connection = context.connection
    if connection is not None:
        if connection.status is ConnectionStatus.ERROR and await _token_works(context):
            await mark_active(context.session, connection, source="webhook", event=event)
        return WebhookOutcome.PROCESSED
    candidates = await context.session.scalars(
        select(EmbeddedSignupAttempt)
        .where(
            EmbeddedSignupAttempt.waba_id == context.change.waba_id,
            EmbeddedSignupAttempt.status == AttemptStatus.PROCESSING,
        )
        .order_by(EmbeddedSignupAttempt.created_at.desc())
    )
    # Only an attempt Meta showed the WABA to: a page can name any WABA id in its callback.
    attempt = next((a for a in candidates if waba_confirmed(a, context.change.waba_id)), None)
    if attempt is None:
        # A WABA shared with us whose browser callback never arrived: without Meta's code it cannot be
        # completed here; it stays unmatched (and counted) for support to follow up.
        log.warning("webhook.waba_shared_without_signup", waba_id=context.change.waba_id, meta_event=event)
        return WebhookOutcome.UNMATCHED
    # A postponed resume (owner NULL, not-before time) becomes due now; a held lease is left alone.
    await context.session.execute(
        update(EmbeddedSignupAttempt)
        .where(EmbeddedSignupAttempt.id == attempt.id, EmbeddedSignupAttempt.lease_owner.is_(None))
        .values(lease_expires_at=None)
    )
    context.change.organization_id = attempt.organization_id
    return WebhookOutcome.PROCESSED


async def _token_works(context: Context) -> bool:
    """The stored token is valid and still reads the WABA (a transient Meta failure raises: retried).

    Proven by use, as the signup does (ARCHITECTURE §14): June 2026's tokens may name the WABA under no
    classic WhatsApp scope.
    """
    connection = context.connection
    assert connection is not None
    token = readable_token(context.runtime.ring, connection)  # undecryptable: as good as invalid
    if not token:
        return False
    try:
        info = await context.runtime.graph.debug_token(token)
        if info.is_valid:
            await context.runtime.graph.get_waba(connection.waba_id, token=token)
    except MetaError as error:
        if error.transient:
            raise
        return False
    return info.is_valid


HANDLERS: dict[str, Handler] = {"account_update": handle}
