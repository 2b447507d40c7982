"""Sent messages and their status history (reference 2026 §5.5).

Meta's ``statuses`` webhooks arrive late, twice and out of order, and a ``delivered`` may be skipped when
the lead reads at once. The history keeps each status once; the message's status only moves forward
(queued → sent → delivered → read), and ``failed`` wins over everything.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.assistant.models import MessageStatus, OutboundMessage
from qualifica.assistant.send_errors import explain_status_error
from qualifica.observability import assistant_metrics

RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.READ: 3,
    MessageStatus.FAILED: 4,
}


def moment(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def with_status(history: list[Any], status: MessageStatus, at: datetime) -> list[Any]:
    """``history`` plus ``status`` (once), ordered by time and then by rank."""
    if any(item.get("status") == status.value for item in history if isinstance(item, dict)):
        return history
    items = [*history, {"status": status.value, "at": moment(at)}]
    return sorted(items, key=lambda item: (item["at"], RANK.get(MessageStatus(item["status"]), 0)))


def advanced(current: MessageStatus, new: MessageStatus) -> MessageStatus:
    return new if RANK[new] > RANK[current] else current


def apply_status(
    message: OutboundMessage, status: MessageStatus, at: datetime, error: dict[str, Any] | None
) -> bool:
    """Write ``status`` into the message; True when anything changed."""
    history = with_status(list(message.history or []), status, at)
    changed = history != (message.history or [])
    target = advanced(message.status, status)
    if target is not message.status:
        message.status = target
        changed = True
    if status is MessageStatus.FAILED and message.error_code is None:
        message.error_code, message.error_message = explain_status_error(error)
        changed = True
    if changed:
        message.history = history
    return changed


async def record_status(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    wamid: str,
    status: str,
    at: datetime,
    error: dict[str, Any] | None,
) -> None:
    """A ``statuses`` webhook for one of our messages (unknown wamids — sent from the phone app, or by
    someone else — are ignored). Idempotent; flushes, the caller commits."""
    try:
        new = MessageStatus(status)
    except ValueError:
        return  # e.g. a status Meta adds later; history keeps only what we know
    if new is MessageStatus.QUEUED:
        return
    message = await session.scalar(
        select(OutboundMessage)
        .where(OutboundMessage.organization_id == organization_id, OutboundMessage.wamid == wamid)
        .with_for_update()
    )
    if message is None:
        return
    if apply_status(message, new, at, error):
        await session.flush()
        assistant_metrics.status_changed(new.value)
