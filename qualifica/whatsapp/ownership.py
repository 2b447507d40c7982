"""Who holds a WABA and a number (ARCHITECTURE §12): one organization at a time, one attempt at a time.

A connection that is not ``disconnected`` holds its WABA and its number; the partial unique indexes on
``whatsapp_connections`` make that true in the database, these checks make it an answer (409
``waba_in_use``) instead of a constraint error. Within an organization an attempt never replaces a
connection a later attempt saved.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.meta.models import TokenInfo
from qualifica.runtime import Runtime
from qualifica.whatsapp.models import ConnectionStatus, EmbeddedSignupAttempt, WhatsAppConnection

HELD_INDEXES = ("uq_whatsapp_connections_held_waba_id", "uq_whatsapp_connections_held_phone_number_id")


class Superseded(Exception):
    """A later attempt of the organization started (or saved its connection): this one must not save."""


class InUse(Exception):
    """Another organization holds the WABA or the number: the signup ends with 409 ``waba_in_use``."""


async def held_elsewhere(
    session: AsyncSession, *, organization_id: uuid.UUID, waba_id: str, phone_number_id: str
) -> bool:
    """Another organization's live (not disconnected) connection holds this WABA or this number."""
    holder = await session.scalar(
        select(WhatsAppConnection.id)
        .where(
            WhatsAppConnection.organization_id != organization_id,
            WhatsAppConnection.status != ConnectionStatus.DISCONNECTED,
            or_(
                WhatsAppConnection.waba_id == waba_id,
                WhatsAppConnection.phone_number_id == phone_number_id,
            ),
        )
        .limit(1)
    )
    return holder is not None


async def ensure_free(runtime: Runtime, attempt: EmbeddedSignupAttempt, waba_id: str, phone_id: str) -> None:
    """Before registering a number (Meta would take our PIN as its 2FA PIN): refuse one held elsewhere."""
    async with runtime.sessionmaker() as session:
        taken = await held_elsewhere(
            session, organization_id=attempt.organization_id, waba_id=waba_id, phone_number_id=phone_id
        )
    if taken:
        raise InUse


async def refuse_unless_newest(
    session: AsyncSession, attempt: EmbeddedSignupAttempt, connection: WhatsAppConnection | None
) -> None:
    """``Superseded`` when the organization's connection was saved by an attempt started after this one."""
    saved_by = connection.last_attempt_id if connection is not None else None
    if saved_by is None or saved_by == attempt.id:
        return
    later = await session.scalar(
        select(EmbeddedSignupAttempt.id).where(
            EmbeddedSignupAttempt.id == saved_by,
            or_(
                EmbeddedSignupAttempt.started_at > attempt.started_at,
                and_(
                    EmbeddedSignupAttempt.started_at == attempt.started_at,
                    EmbeddedSignupAttempt.created_at > attempt.created_at,
                ),
            ),
        )
    )
    if later is not None:
        raise Superseded


async def other_holder(session: AsyncSession, connection: WhatsAppConnection) -> bool:
    """Another live connection holds the same WABA (left from before the unique index): keep it subscribed."""
    other = await session.scalar(
        select(WhatsAppConnection.id)
        .where(
            WhatsAppConnection.id != connection.id,
            WhatsAppConnection.waba_id == connection.waba_id,
            WhatsAppConnection.status != ConnectionStatus.DISCONNECTED,
        )
        .limit(1)
    )
    return other is not None


def violates_holding(error: IntegrityError) -> bool:
    """The insert or update lost a race for a WABA or number another organization saved meanwhile."""
    text = str(error.orig)
    return (
        any(name in text for name in HELD_INDEXES)
        or "whatsapp_connections.waba_id" in text
        or ("whatsapp_connections.phone_number_id" in text)
    )


def waba_confirmed(attempt: EmbeddedSignupAttempt, waba_id: str | None) -> bool:
    """Meta itself showed this attempt's token the WABA (its read succeeded, or the token lists it).

    The browser's ``waba_id`` alone proves nothing: a page can send any id.
    """
    if not waba_id or attempt.waba_id != waba_id:
        return False
    results: dict[str, Any] = attempt.step_results or {}
    waba = results.get("waba")
    if isinstance(waba, dict) and str(waba.get("id")) == waba_id:
        return True
    try:
        token = TokenInfo.model_validate(results["token"]) if "token" in results else None
    except ValidationError:
        return False
    return token is not None and waba_id in token.waba_hints
