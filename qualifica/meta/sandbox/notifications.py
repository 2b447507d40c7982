"""Webhook notifications for tests and demos: quality, name decision, inbound message, account events."""

from __future__ import annotations

import secrets
import threading
from typing import Any, Protocol

from qualifica.meta.sandbox.webhooks import WebhookSender, account_update, entry
from qualifica.meta.sandbox.world import PARTNER_BUSINESS_ID, World


class Host(Protocol):
    """What the notifier reads of the sandbox it belongs to."""

    lock: threading.RLock
    world: World
    webhooks: WebhookSender

    def now(self) -> float: ...


class Notifier:
    def __init__(self, sandbox: Host) -> None:
        self._sandbox = sandbox

    def _send(self, entry_id: str, field: str, value: dict[str, Any], *, timed: bool = True) -> None:
        sandbox = self._sandbox
        sandbox.webhooks.send([entry(entry_id, field, value, sandbox.now() if timed else None)])

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
        self, phone_id: str, sender: str = "5511912345678", text: str = "Olá! Vi o anúncio do apartamento."
    ) -> str:
        """An inbound text message to the number; returns its ``wamid``."""
        wamid = "wamid." + secrets.token_urlsafe(24)
        with self._sandbox.lock:
            phone = self._sandbox.world.phones[phone_id]
            now = int(self._sandbox.now())
            value = {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": phone.display_phone_number, "phone_number_id": phone.id},
                "contacts": [{"profile": {"name": "Cliente Teste"}, "wa_id": sender}],
                "messages": [
                    {
                        "from": sender,
                        "id": wamid,
                        "timestamp": str(now),
                        "type": "text",
                        "text": {"body": text},
                    }
                ],
            }
            waba_id = phone.waba_id
        self._send(waba_id, "messages", value, timed=False)
        return wamid
