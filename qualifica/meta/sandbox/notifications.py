"""Webhook notifications for tests and demos: quality, name decision, inbound messages (with
business-scoped user ids), account events, and the coexistence syncs' contacts, history and echoes
(docs/meta.md#business-scoped-user-ids, docs/meta.md#coexistence-syncs).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from qualifica.meta.sandbox.scenario import Scenario
from qualifica.meta.sandbox.webhooks import WebhookSender, account_update, entry
from qualifica.meta.sandbox.world import PARTNER_BUSINESS_ID, IdMaker, Phone, World

# What a WhatsApp Business app number "has" before onboarding: its contacts and a few chats.
SMB_CONTACTS = (
    ("Ana Souza", "Ana", "5511987650001"),
    ("Bruno Lima", "Bruno", "5511987650002"),
    ("Carla Mendes", "Carla", "5511987650003"),
)
HISTORY_DECLINED_CODE = 2593109


class Host(Protocol):
    """What the notifier reads of the sandbox it belongs to."""

    lock: threading.RLock
    world: World
    webhooks: WebhookSender
    scenario: Scenario
    generation: int  # moves on each reset: a status scheduled before it is never sent after it

    def now(self) -> float: ...


class Notifier:
    def __init__(self, sandbox: Host) -> None:
        self._sandbox = sandbox

    def _send(self, entry_id: str, field: str, value: dict[str, Any], *, timed: bool = True) -> None:
        sandbox = self._sandbox
        sandbox.webhooks.send([entry(entry_id, field, value, sandbox.now() if timed else None)])

    def _send_subscribed(self, entry_id: str, field: str, values: list[dict[str, Any]]) -> None:
        """Coexistence fields reach only an app subscribed to them (docs/meta.md#coexistence-syncs), one POST
        each.
        """
        if field not in self._sandbox.webhooks.fields:
            return
        for value in values:
            self._send(entry_id, field, value)

    def account_update(
        self, event: str, *waba_ids: str, partner_app_id: str | None = None, **extra: Any
    ) -> None:
        """``account_update`` (PARTNER_ADDED, ACCOUNT_DELETED, …) for WABAs of the world, in one POST."""
        sandbox = self._sandbox
        with sandbox.lock:
            owners = {waba_id: sandbox.world.wabas[waba_id].owner_business_id for waba_id in waba_ids}
            now = sandbox.now()
        values = [
            {**account_update(event, waba_id, owner, partner_app_id=partner_app_id), **extra}
            for waba_id, owner in owners.items()
        ]
        sandbox.webhooks.send([entry(PARTNER_BUSINESS_ID, "account_update", value, now) for value in values])

    def quality_update(
        self, phone_id: str, event: str = "ONBOARDING", current_limit: str = "TIER_250"
    ) -> None:
        with self._sandbox.lock:
            phone = self._sandbox.world.phones[phone_id]
            value = {
                "display_phone_number": phone.display_phone_number,
                "event": event,
                "current_limit": current_limit,
                "max_daily_conversations_per_business": current_limit,
            }
            waba_id = phone.waba_id
        self._send(waba_id, "phone_number_quality_update", value)

    def name_update(
        self, phone_id: str, decision: str = "APPROVED", rejection_reason: str | None = None
    ) -> None:
        with self._sandbox.lock:
            phone = self._sandbox.world.phones[phone_id]
            if decision == "APPROVED":
                phone.name_status = "APPROVED"
            value = {
                "display_phone_number": phone.display_phone_number,
                "decision": decision,
                "requested_verified_name": phone.verified_name,
                "rejection_reason": rejection_reason,
            }
            waba_id = phone.waba_id
        self._send(waba_id, "phone_number_name_update", value)

    def message(
        self,
        phone_id: str,
        sender: str = "5511912345678",
        text: str = "Olá! Vi o anúncio do apartamento.",
        *,
        user_id: str | None = None,
        username: bool = False,
        image: tuple[bytes, str] | None = None,
        referral: dict[str, Any] | None = None,
        profile_name: str = "Cliente Teste",
    ) -> str:
        """An inbound message to the number (text; or an image — its bytes and type, with ``text`` as the
        caption — kept for ``GET /{media_id}``; a click-to-WhatsApp ad's ``referral``); returns its ``wamid``.

        It carries the sender's business-scoped user id (``contacts[].user_id``, ``messages[].from_user_id``;
        default: derived from ``sender``). ``username``: a user who adopted a username, whose ``wa_id`` and
        ``from`` come empty (docs/meta.md#business-scoped-user-ids, BSUID page).
        """
        wamid = "wamid." + secrets.token_urlsafe(24)
        bsuid = user_id or IdMaker.bsuid(sender)
        wa_id = "" if username else sender
        with self._sandbox.lock:
            phone = self._sandbox.world.phones[phone_id]
            now = int(self._sandbox.now())
            if wa_id:  # the lead's message opens (or renews) the 24 h service window (reference 2026 §5.2)
                talk = self._sandbox.world.conversation(phone_id, wa_id)
                talk.last_inbound_at = self._sandbox.now()
                talk.received.append({"id": wamid, "text": text, "at": self._sandbox.now()})
            message: dict[str, Any] = {
                "from": wa_id,
                "from_user_id": bsuid,
                "id": wamid,
                "timestamp": str(now),
            }
            if image is not None:
                media = self._sandbox.world.add_media(phone_id, image[0], image[1])
                message |= {"type": "image", "image": {"id": media.id, "mime_type": media.mime_type,
                                                      "sha256": media.sha256, "caption": text}}  # fmt: skip
            else:
                message |= {"type": "text", "text": {"body": text}}
            if referral is not None:
                message["referral"] = referral
            value = {
                **_envelope(phone),
                "contacts": [{"profile": {"name": profile_name}, "wa_id": wa_id, "user_id": bsuid}],
                "messages": [message],
            }
            waba_id = phone.waba_id
        self._send(waba_id, "messages", value, timed=False)
        return wamid

    def statuses(
        self,
        phone_id: str,
        wamid: str,
        wa_id: str,
        statuses: Sequence[str],
        *,
        error: dict[str, Any] | None = None,
        delay: float | None = None,
    ) -> None:
        """The ``statuses`` webhooks of a sent message, one POST each, ``delay`` seconds apart (default: the
        scenario's), in a thread of their own (reference 2026 §5.5). ``failed`` carries ``errors[]`` and,
        since the BSUID rollout, no ``contacts``. Each status also moves the conversation's record of the
        message."""
        if not statuses:
            return
        sandbox = self._sandbox
        with sandbox.lock:
            generation = sandbox.generation
            pause = sandbox.scenario.status_delay_seconds if delay is None else delay

        def run() -> None:
            for status in statuses:
                time.sleep(pause)
                with sandbox.lock:
                    if sandbox.generation != generation:
                        return
                    phone = sandbox.world.phones[phone_id]
                    for item in sandbox.world.conversation(phone_id, wa_id).sent:
                        if item["id"] == wamid:
                            item["status"] = status
                    entry_id = phone.waba_id
                    value = _status_value(phone, wamid, wa_id, status, int(sandbox.now()), error)
                self._send(entry_id, "messages", value, timed=False)

        threading.Thread(target=run, name="sandbox-statuses", daemon=True).start()

    def user_changed_number(
        self, phone_id: str, old_number: str, new_number: str, *, new_user_id: str | None = None
    ) -> str:
        """System message: the user moved to ``new_number``; Meta regenerates the BSUID."""
        new_bsuid = new_user_id or IdMaker.bsuid(new_number)
        system = {
            "type": "user_changed_number",
            "body": f"User Cliente Teste changed from {old_number} to {new_number}",
            "wa_id": new_number,
            "user_id": new_bsuid,
        }
        return self._system(phone_id, old_number, IdMaker.bsuid(old_number), system)

    def user_changed_user_id(self, phone_id: str, sender: str, old_user_id: str, new_user_id: str) -> str:
        """System message: only the BSUID changed, no number in it (docs/meta.md#business-scoped-user-ids)."""
        system = {
            "type": "user_changed_user_id",
            "body": "User Cliente Teste changed their user id",
            "user_id": new_user_id,
        }
        return self._system(phone_id, sender, old_user_id, system)

    def _system(self, phone_id: str, sender: str, sender_user_id: str, system: dict[str, Any]) -> str:
        wamid = "wamid." + secrets.token_urlsafe(24)
        with self._sandbox.lock:
            phone = self._sandbox.world.phones[phone_id]
            message = {
                "from": sender,
                "from_user_id": sender_user_id,
                "id": wamid,
                "timestamp": str(int(self._sandbox.now())),
                "type": "system",
                "system": system,
            }
            value = {**_envelope(phone), "messages": [message]}  # system messages carry no contacts
            waba_id = phone.waba_id
        self._send(waba_id, "messages", value, timed=False)
        return wamid

    # -- coexistence (docs/meta.md#coexistence-syncs) --------------------------------------------------------
    def contacts_sync(self, phone_id: str) -> None:
        """``smb_app_state_sync``: the app's contacts, the initial dump after a contact sync request."""
        with self._sandbox.lock:
            phone = self._sandbox.world.phones[phone_id]
            stamp = str(int(self._sandbox.now()))
            items = [
                {
                    "type": "contact",
                    "action": "add",
                    "contact": {"full_name": full, "first_name": first, "phone_number": number},
                    "metadata": {"timestamp": stamp},
                }
                for full, first, number in SMB_CONTACTS
            ]
            value = {**_envelope(phone), "state_sync": items}
            waba_id = phone.waba_id
        self._send_subscribed(waba_id, "smb_app_state_sync", [value])

    def history_sync(self, phone_id: str, *, shared: bool = True) -> None:
        """``history``: chats of the last months in chunks, out of order; or error 2593109 if declined."""
        with self._sandbox.lock:
            phone = self._sandbox.world.phones[phone_id]
            now = int(self._sandbox.now())
            business = _digits(phone.display_phone_number)
            if not shared:
                error = {
                    "code": HISTORY_DECLINED_CODE,
                    "title": "History sharing is turned off",
                    "message": "History sharing is turned off",
                    "error_data": {"details": "The business declined sharing its chat history"},
                }
                chunks: list[dict[str, Any]] = [{"errors": [error]}]
            else:
                chunks = [
                    _history_chunk(business, phase, order, progress, now - age, contact)
                    for phase, order, progress, age, contact in (
                        (1, 2, 55, 30 * 86400, SMB_CONTACTS[1]),  # chunks may come out of order
                        (0, 1, 20, 3600, SMB_CONTACTS[0]),
                        (2, 3, 100, 120 * 86400, SMB_CONTACTS[2]),
                    )
                ]
            values = [{**_envelope(phone), "history": [chunk]} for chunk in chunks]
            waba_id = phone.waba_id
        self._send_subscribed(waba_id, "history", values)

    def smb_message_echo(self, phone_id: str, to: str = "5511987650001", text: str = "Te ligo já") -> str:
        """``smb_message_echoes``: the business answered from the app on its phone."""
        wamid = "wamid." + secrets.token_urlsafe(24)
        with self._sandbox.lock:
            phone = self._sandbox.world.phones[phone_id]
            echo = {
                "from": _digits(phone.display_phone_number),
                "to": to,
                "to_user_id": IdMaker.bsuid(to),
                "id": wamid,
                "timestamp": str(int(self._sandbox.now())),
                "type": "text",
                "text": {"body": text},
            }
            value = {**_envelope(phone), "message_echoes": [echo]}
            waba_id = phone.waba_id
        self._send_subscribed(waba_id, "smb_message_echoes", [value])
        return wamid


def _digits(display: str) -> str:
    return "".join(c for c in display if c.isdigit())


def _envelope(phone: Phone) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": phone.display_phone_number, "phone_number_id": phone.id},
    }


def _status_value(
    phone: Phone, wamid: str, wa_id: str, status: str, now: int, error: dict[str, Any] | None
) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(now), "recipient_id": wa_id}
    value: dict[str, Any] = {**_envelope(phone), "statuses": [item]}
    if status == "failed":
        item["errors"] = [error or {"code": 131000, "title": "Something went wrong"}]
        return value
    item["pricing"] = {
        "billable": False,
        "pricing_model": "PMP",
        "type": "free_customer_service",
        "category": "service",
    }
    value["contacts"] = [
        {"profile": {"name": "Cliente Teste"}, "wa_id": wa_id, "user_id": IdMaker.bsuid(wa_id)}
    ]
    return value


def _history_chunk(
    business: str, phase: int, order: int, progress: int, at: int, contact: tuple[str, str, str]
) -> dict[str, Any]:
    customer = contact[2]
    messages = [
        {
            "from": customer,
            "from_user_id": IdMaker.bsuid(customer),
            "id": f"wamid.H{order}a",
            "timestamp": str(at),
            "type": "text",
            "text": {"body": f"Olá, aqui é {contact[1]}. O apartamento ainda está disponível?"},
            "history_context": {"status": "READ"},
        },
        {
            "from": business,
            "to": customer,
            "id": f"wamid.H{order}b",
            "timestamp": str(at + 50),
            "type": "text",
            "text": {"body": "Bom dia! Está sim, quer agendar uma visita?"},
            "history_context": {"status": "DELIVERED"},
        },
        {
            "from": customer,
            "from_user_id": IdMaker.bsuid(customer),
            "id": f"wamid.H{order}c",
            "timestamp": str(at + 90),
            "type": "media_placeholder",
            "history_context": {"status": "DELIVERED"},
        },
    ]
    return {
        "metadata": {"phase": phase, "chunk_order": order, "progress": progress},
        "threads": [{"id": customer, "messages": messages}],
    }
