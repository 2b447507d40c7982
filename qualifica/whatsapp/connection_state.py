"""Changes Meta (through a webhook or a health check) makes to a connection: status, error, warnings.

Each status change is audited with actor Meta (``actor_user_id`` NULL) and counted. Every function is
idempotent: applying the same news twice changes nothing the second time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from qualifica import audit
from qualifica.db import utcnow
from qualifica.observability import webhook_metrics
from qualifica.security.crypto import DecryptionError, KeyRing, unseal
from qualifica.whatsapp.errors import SESSION_EXPIRED_MESSAGE
from qualifica.whatsapp.events import connection_changed
from qualifica.whatsapp.mail.models import MailKind
from qualifica.whatsapp.mail.outbox import change_moment, enqueue
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection

RECONNECT = "Clique para reconectar."
TOKEN_INVALID_MESSAGE = SESSION_EXPIRED_MESSAGE  # "Sessão expirada. Clique para reconectar."
ERROR_MESSAGES = {
    "app_uninstalled": "A Meta informou que o aplicativo Qualifica foi removido da sua conta do WhatsApp "
    "Business. Sessão expirada. " + RECONNECT,
    "partner_removed": "A Meta informou que a conta do WhatsApp Business deixou de ser compartilhada com o "
    "Qualifica. É preciso reconectar. " + RECONNECT,
    "account_deleted": "A Meta informou que a conta do WhatsApp Business foi excluída. É preciso conectar "
    "outra conta. " + RECONNECT,
    "token_invalid": TOKEN_INVALID_MESSAGE,
}


def readable_token(ring: KeyRing, connection: WhatsAppConnection) -> str | None:
    """The connection's token, or None when it cannot be decrypted (its key left the ring, or the value was
    tampered with): such a connection behaves as one whose token Meta no longer accepts."""
    try:
        return unseal(ring, connection, "access_token")
    except DecryptionError:
        return None


async def _audit(
    session: AsyncSession, connection: WhatsAppConnection, *, before: str, details: dict[str, Any]
) -> None:
    await audit.record(
        session,
        organization_id=connection.organization_id,
        actor_user_id=None,  # Meta
        action="whatsapp.status_changed",
        status=connection.status.value,
        details={"from": before, "to": connection.status.value, "waba_id": connection.waba_id, **details},
    )


async def tell_assistant(session: AsyncSession, connection: WhatsAppConnection) -> None:
    """The assistant's ``connection.status_changed`` event, in the change's transaction (§15)."""
    await connection_changed(
        session,
        organization_id=connection.organization_id,
        status=connection.status.value,
        error_code=connection.error_code,
        at=connection.updated_at or utcnow(),
    )


async def mark_error(
    session: AsyncSession, connection: WhatsAppConnection, *, code: str, source: str, **details: Any
) -> bool:
    """Put a live connection in ``error`` with ``code``; a disconnected one stays as the admin left it."""
    if connection.status is ConnectionStatus.DISCONNECTED:
        return False
    if connection.status is ConnectionStatus.ERROR and connection.error_code == code:
        return False
    before = connection.status.value
    connection.status = ConnectionStatus.ERROR
    connection.error_code = code
    connection.error_message = ERROR_MESSAGES[code]
    connection.updated_at = utcnow()
    await _audit(
        session, connection, before=before, details={"error_code": code, "source": source, **details}
    )
    await tell_assistant(session, connection)
    if before != ConnectionStatus.ERROR.value:  # one mail per fall into error, not per code change
        await enqueue(session, connection, MailKind.DISCONNECTED, change_moment(connection.updated_at))
    webhook_metrics.status_changed(status=ConnectionStatus.ERROR.value, reason=code)
    return True


async def mark_active(
    session: AsyncSession, connection: WhatsAppConnection, *, source: str, **details: Any
) -> bool:
    """Bring a connection in ``error`` back to ``active`` (Meta says access is granted and it works)."""
    if connection.status is not ConnectionStatus.ERROR:
        return False
    before_code = connection.error_code
    connection.status = ConnectionStatus.ACTIVE
    connection.error_code = connection.error_message = None
    connection.updated_at = utcnow()
    await _audit(
        session,
        connection,
        before=ConnectionStatus.ERROR.value,
        details={"previous_error_code": before_code, "source": source, **details},
    )
    await tell_assistant(session, connection)
    await enqueue(session, connection, MailKind.RECONNECTED, change_moment(connection.updated_at))
    webhook_metrics.status_changed(status=ConnectionStatus.ACTIVE.value, reason=source)
    return True


async def note_token_expiring(session: AsyncSession, connection: WhatsAppConnection) -> None:
    """The token expires within 7 days: one mail per admin per expiry date, however often it is seen."""
    if connection.token_expires_at is not None:
        key = connection.token_expires_at.date().isoformat()
        await enqueue(session, connection, MailKind.EXPIRING, key)


def set_warning(
    connection: WhatsAppConnection,
    code: str,
    message: str,
    *,
    source: str,
    since: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add or replace the warning ``code`` shown on the page (one per code)."""
    warning = {
        "code": code,
        "message": message,
        "source": source,
        "since": (since or utcnow()).isoformat(),
        "details": details or {},
    }
    others = [
        w for w in connection.health_warnings or [] if not (isinstance(w, dict) and w.get("code") == code)
    ]
    connection.health_warnings = [*others, warning]  # a new list: JSON columns track assignment, not mutation


def clear_warning(connection: WhatsAppConnection, *codes: str) -> None:
    kept = [
        w for w in connection.health_warnings or [] if not (isinstance(w, dict) and w.get("code") in codes)
    ]
    if kept != (connection.health_warnings or []):
        connection.health_warnings = kept
