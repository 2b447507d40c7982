"""Meta's webhook deliveries: signed POSTs, retried on anything but 200, sometimes sent twice.

Deliveries run on a small thread pool with a synchronous client, so any thread (a test, the control
API, a Graph handler) can send without owning an event loop.
"""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import httpx

from qualifica.logging import get_logger
from qualifica.meta.signature import sign
from qualifica.meta.webhook_subscription import SUBSCRIBED_FIELDS, WEBHOOK_OBJECT

log = get_logger("qualifica.meta.sandbox.webhooks")


@dataclass(frozen=True)
class Delivery:
    """One POST attempt: the body sent and the answer (``status`` None on a connection failure)."""

    body: bytes
    attempt: int
    status: int | None
    duplicate: bool
    at: float

    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


def entry(entry_id: str, field: str, value: dict[str, Any], now: float | None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry_id, "changes": [{"field": field, "value": value}]}
    if now is not None:  # messages payloads carry no time (docs/meta.md#webhook-notifications)
        item["time"] = int(now)
    return item


def account_update(
    event: str, waba_id: str, owner_business_id: str, *, partner_app_id: str | None = None
) -> dict[str, Any]:
    info: dict[str, Any] = {"waba_id": waba_id, "owner_business_id": owner_business_id}
    if partner_app_id is not None:
        info["partner_app_id"] = partner_app_id
    return {"event": event, "waba_info": info}


class WebhookSender:
    def __init__(
        self,
        url: str | None,
        *,
        app_secret: str,
        retry_base_seconds: float,
        max_attempts: int,
        duplicate_rate: float,
    ) -> None:
        self.url = url  # the app's subscription: where Meta posts, and which fields
        self.fields: tuple[str, ...] = SUBSCRIBED_FIELDS
        self._secret = app_secret
        self.retry_base_seconds = retry_base_seconds
        self.max_attempts = max_attempts
        self.duplicate_rate = duplicate_rate
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandbox-webhook")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self.deliveries: list[Delivery] = []

    def send(self, entries: list[dict[str, Any]]) -> None:
        """Queue one POST carrying all ``entries`` (Meta batches); no-op without a URL."""
        if not self.url or not entries:
            return
        body = json.dumps({"object": WEBHOOK_OBJECT, "entry": entries}).encode()
        duplicate = random.random() < self.duplicate_rate  # noqa: S311 - simulation, not security
        for copy in range(2 if duplicate else 1):
            future = self._pool.submit(self._deliver, self.url, body, copy == 1)
            with self._lock:
                self._pending.add(future)
            future.add_done_callback(self._forget)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until queued deliveries (retries included) are done; True if they all finished."""
        with self._lock:
            pending = set(self._pending)
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _deliver(self, url: str, body: bytes, duplicate: bool) -> None:
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, self._secret)}
        with httpx.Client(timeout=10.0) as client:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    status: int | None = client.post(url, content=body, headers=headers).status_code
                except httpx.HTTPError:
                    status = None
                with self._lock:
                    self.deliveries.append(Delivery(body, attempt, status, duplicate, time.time()))
                log.info("sandbox.webhook.delivery", attempt=attempt, status=status, duplicate=duplicate)
                if status == 200:
                    return
                # "Immediately, then with decreasing frequency": 0, 1, 2, 4, … times the base.
                time.sleep(0 if attempt == 1 else self.retry_base_seconds * 2 ** (attempt - 2))
