"""Meta webhook bodies, and posting them signed with the test app's secret as Meta would."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from qualifica.config import WEBHOOK_PATH
from qualifica.meta.signature import sign
from tests.support.meta import APP_SECRET


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"content-type": "application/json", "x-hub-signature-256": sign(body, secret)}


async def post_signed(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post(WEBHOOK_PATH, content=body, headers=signed(body))


def envelope(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": list(entries)}).encode()


def account_entry(
    event: str, waba_id: str, *, entry_id: str = "880000000000900", at: int | None = None, **extra: Any
) -> dict[str, Any]:
    """An ``account_update`` entry sent ``at`` (Meta's whole seconds; now unless given: an event older
    than the connection it reaches is ignored, ARCHITECTURE §12)."""
    value = {"event": event, "waba_info": {"waba_id": waba_id, "owner_business_id": "1"}, **extra}
    sent = int(time.time()) if at is None else at
    return {"id": entry_id, "time": sent, "changes": [{"field": "account_update", "value": value}]}
