"""Who a lead is, as Meta identifies people today (ARCHITECTURE §14; reference 2026 §5.9).

Meta sends a business-scoped user id (BSUID, ``user_id``) with every message since April 2026, and the
phone (``wa_id``) unless the person adopted a username, when ``wa_id`` is empty. Both change: a new number
regenerates the BSUID (``user_changed_number``), and ``user_changed_user_id`` reports a new BSUID alone.
A contact is found by its BSUID first, then by its phone, and keeps the ids it had before, so a lead is
never keyed on the phone alone and survives both changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.whatsapp.models import WhatsAppContact


@dataclass(frozen=True)
class Identity:
    user_id: str | None = None  # the BSUID
    wa_id: str | None = None  # the phone, when Meta sends it (empty for username users)
    username: str | None = None
    profile_name: str | None = None

    @classmethod
    def of(cls, user_id: Any = None, wa_id: Any = None, **names: Any) -> Identity:
        """From webhook fields: empty strings and non-strings are "not sent"."""
        return cls(
            _text(user_id, 256),
            _text(wa_id, 32),
            _text(names.get("username"), 128),
            _text(names.get("profile_name"), 255),
        )

    @property
    def known(self) -> bool:
        return bool(self.user_id or self.wa_id)


def _text(value: Any, limit: int) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None


def timestamp(value: Any) -> datetime | None:
    """Meta's epoch-seconds string."""
    try:
        return datetime.fromtimestamp(int(str(value)), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


async def _by(session: AsyncSession, phone_number_id: str, **key: str | None) -> WhatsAppContact | None:
    ((column, value),) = key.items()
    if value is None:
        return None
    return await session.scalar(
        select(WhatsAppContact).where(
            WhatsAppContact.phone_number_id == phone_number_id, getattr(WhatsAppContact, column) == value
        )
    )


async def find(session: AsyncSession, phone_number_id: str, identity: Identity) -> WhatsAppContact | None:
    return await _by(session, phone_number_id, user_id=identity.user_id) or await _by(
        session, phone_number_id, wa_id=identity.wa_id
    )


async def _free(
    session: AsyncSession, phone_number_id: str, user_id: str | None, wa_id: str | None = None
) -> bool:
    """The id was sent and no contact of the number holds it yet (each is unique per number)."""
    if user_id:
        return await _by(session, phone_number_id, user_id=user_id) is None
    if wa_id:
        return await _by(session, phone_number_id, wa_id=wa_id) is None
    return False


def _remember_old(values: list[Any] | None, old: str | None) -> list[Any] | None:
    if not old:
        return values
    return [*(values or []), old] if old not in (values or []) else values


async def remember(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    phone_number_id: str,
    identity: Identity,
    source: str,
    inbound_at: datetime | None = None,
) -> WhatsAppContact | None:
    """Find or create the contact, filling in what Meta sent; None when Meta sent no id at all."""
    if not identity.known:
        return None
    contact = await find(session, phone_number_id, identity)
    if contact is None:
        contact = WhatsAppContact(
            id=uuid.uuid4(),
            organization_id=organization_id,
            phone_number_id=phone_number_id,
            user_id=identity.user_id,
            wa_id=identity.wa_id,
            source=source,
        )
        session.add(contact)
    else:
        if identity.user_id != contact.user_id and await _free(session, phone_number_id, identity.user_id):
            contact.previous_user_ids = _remember_old(contact.previous_user_ids, contact.user_id)
            contact.user_id = identity.user_id
        if contact.wa_id is None and await _free(session, phone_number_id, None, identity.wa_id):
            contact.wa_id = identity.wa_id
    contact.username = identity.username or contact.username
    contact.profile_name = identity.profile_name or contact.profile_name
    if inbound_at is not None and (contact.last_inbound_at is None or inbound_at > contact.last_inbound_at):
        contact.last_inbound_at = inbound_at
    await session.flush()
    return contact


async def change_identity(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    phone_number_id: str,
    old: Identity,
    new: Identity,
) -> WhatsAppContact | None:
    """``user_changed_user_id`` / ``user_changed_number``: the same person under new ids; the old ones are
    kept on the contact, so the lead and its history stay one."""
    contact = await find(session, phone_number_id, old)
    if contact is None:
        return await remember(
            session,
            organization_id=organization_id,
            phone_number_id=phone_number_id,
            identity=new,
            source="messages",
        )
    if new.user_id != contact.user_id and await _free(session, phone_number_id, new.user_id):
        contact.previous_user_ids = _remember_old(contact.previous_user_ids, contact.user_id)
        contact.user_id = new.user_id
    if new.wa_id != contact.wa_id and await _free(session, phone_number_id, None, new.wa_id):
        contact.previous_wa_ids = _remember_old(contact.previous_wa_ids, contact.wa_id)
        contact.wa_id = new.wa_id
    await session.flush()
    return contact
