"""Meta's ``messages`` webhooks turned into the assistant's events (ARCHITECTURE §15), in the change's
transaction: every inbound message (``message.received``), every status of ours (``message.status``, and
the sent message's history), every coexistence echo and sync. Called by ``webhooks.handlers``.

``message.received``'s ``data`` carries §15's fields (``wamid``, ``from``, ``wa_id``, ``user_id``,
``profile_name``, ``type``, ``text``, ``media``, ``referral``, ``context``, ``timestamp``) and, for the kinds
that have one, Meta's own object under its type's name (``location``, ``contacts``, ``reaction``,
``interactive``, ``button``) so nothing the lead sent is lost.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.assistant.models import OutboundMessage
from qualifica.assistant.outbound import record_status
from qualifica.assistant.window import note_inbound
from qualifica.db import utcnow
from qualifica.whatsapp.contacts import timestamp
from qualifica.whatsapp.events import EventType, append, content_key

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
KEPT_AS_IS = ("location", "contacts", "reaction", "interactive", "button", "order", "system")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(message: dict[str, Any]) -> str | None:
    """What the lead wrote or chose, as text: the body, a media caption, a button or list reply's title."""
    kind = message.get("type")
    if kind == "text":
        return _dict(message.get("text")).get("body")
    if kind in MEDIA_TYPES:
        return _dict(message.get(kind)).get("caption")
    if kind == "button":
        return _dict(message.get("button")).get("text")
    if kind == "interactive":
        interactive = _dict(message.get("interactive"))
        reply = _dict(interactive.get("button_reply")) or _dict(interactive.get("list_reply"))
        return reply.get("title")
    if kind == "reaction":
        return _dict(message.get("reaction")).get("emoji")
    return None


def _media(message: dict[str, Any]) -> dict[str, Any] | None:
    kind = message.get("type")
    if kind not in MEDIA_TYPES:
        return None
    media = _dict(message.get(kind))
    keys = ("id", "mime_type", "sha256", "caption", "filename")
    return {key: media.get(key) for key in keys} if media.get("id") else None


def received_data(message: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    kind = str(message.get("type") or "unknown")
    data: dict[str, Any] = {
        "wamid": message.get("id"),
        "from": message.get("from"),
        "wa_id": profile.get("wa_id") or message.get("from"),
        "user_id": message.get("from_user_id") or profile.get("user_id"),
        "profile_name": _dict(profile.get("profile")).get("name"),
        "type": kind,
        "text": _text(message),
        "media": _media(message),
        "referral": message.get("referral") if isinstance(message.get("referral"), dict) else None,
        "context": message.get("context") if isinstance(message.get("context"), dict) else None,
        "timestamp": message.get("timestamp"),
    }
    if kind in KEPT_AS_IS and message.get(kind) is not None:
        data[kind] = message.get(kind)
    return data


def _items(value: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = value.get(key)
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


async def messages_change(
    session: AsyncSession, *, organization_id: uuid.UUID, phone_number_id: str, value: dict[str, Any]
) -> int:
    """A ``messages`` change: its inbound messages and statuses; returns how many events were new."""
    new = 0
    profiles = {}
    for contact in _items(value, "contacts"):
        for key in ("user_id", "wa_id"):
            if contact.get(key):
                profiles[contact[key]] = contact
    for message in _items(value, "messages"):
        if not message.get("id") or message.get("type") == "system":
            continue  # system messages move ids (whatsapp.contacts); not a lead's words
        sender = message.get("from_user_id") or message.get("from")
        profile = profiles.get(sender) or profiles.get(message.get("from")) or {}
        data = received_data(message, profile)
        at = timestamp(message.get("timestamp")) or utcnow()
        if data["wa_id"]:
            await note_inbound(
                session,
                organization_id=organization_id,
                phone_number_id=phone_number_id,
                wa_id=str(data["wa_id"]),
                at=at,
            )
        new += await append(
            session,
            organization_id=organization_id,
            type=EventType.MESSAGE_RECEIVED,
            occurred_at=at,
            data=data,
            dedupe_key=f"received:{message['id']}",
        )
    for status in _items(value, "statuses"):
        new += await _status(session, organization_id, status)
    return new


async def _status(session: AsyncSession, organization_id: uuid.UUID, status: dict[str, Any]) -> bool:
    wamid, name = status.get("id"), status.get("status")
    if not wamid or not name:
        return False
    at = timestamp(status.get("timestamp")) or utcnow()
    errors = _items(status, "errors")
    error = (
        {"code": errors[0].get("code"), "message": errors[0].get("title") or errors[0].get("message")}
        if errors
        else None
    )
    await record_status(
        session, organization_id=organization_id, wamid=str(wamid), status=str(name), at=at, error=error
    )
    ours = await session.scalar(
        select(OutboundMessage.id).where(
            OutboundMessage.organization_id == organization_id, OutboundMessage.wamid == str(wamid)
        )
    )
    data = {"id": str(ours) if ours else None, "wamid": wamid, "status": name, "error": error}
    return await append(
        session,
        organization_id=organization_id,
        type=EventType.MESSAGE_STATUS,
        occurred_at=at,
        data=data,
        dedupe_key=f"status:{wamid}:{name}",
    )


async def echoes_change(session: AsyncSession, *, organization_id: uuid.UUID, value: dict[str, Any]) -> int:
    """Coexistence: the business wrote from the phone app."""
    new = 0
    for echo in _items(value, "message_echoes"):
        if not echo.get("id"):
            continue
        data = {
            "wamid": echo.get("id"),
            "to": echo.get("to"),
            "to_user_id": echo.get("to_user_id"),
            "type": echo.get("type"),
            "text": _text(echo),
            "media": _media(echo),
            "timestamp": echo.get("timestamp"),
        }
        new += await append(
            session,
            organization_id=organization_id,
            type=EventType.MESSAGE_ECHO,
            occurred_at=timestamp(echo.get("timestamp")) or utcnow(),
            data=data,
            dedupe_key=f"echo:{echo['id']}",
        )
    return new


async def sync_change(
    session: AsyncSession, *, organization_id: uuid.UUID, kind: EventType, key: str, value: dict[str, Any]
) -> int:
    """Coexistence syncs: the contacts (``state_sync``) or the history chunk, as Meta sent them."""
    body = {key: value.get(key)}
    return int(
        await append(
            session,
            organization_id=organization_id,
            type=kind,
            occurred_at=utcnow(),
            data=body,
            dedupe_key=content_key(kind.value, body),
        )
    )
