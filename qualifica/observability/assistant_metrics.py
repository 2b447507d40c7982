"""Prometheus metrics of the messages the assistant sends through the connection (ARCHITECTURE §15).

``qualifica_assistant_messages_total{path, outcome}``: each send try — ``path`` ``inline`` (within the API
call) or ``worker`` (a queued message); ``outcome`` ``sent``, ``queued`` (Meta slow, unavailable or
rate-limiting, or the number's queue not empty: the worker sends it), ``retry`` (the worker will try again),
``failed`` (Meta refused it for good, or the worker gave up).
``qualifica_assistant_send_refusals_total{code}``: sends refused before any Meta call (``not_connected``,
``outside_service_window``, ``rate_limited``, ``idempotency_key_reused``).
``qualifica_assistant_send_seconds{path}``: the Meta call of a send, waiting for the number's slot included.
``qualifica_assistant_statuses_total{status}``: statuses from Meta's webhooks that changed a message.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from prometheus_client import Counter, Histogram

SendPath = Literal["inline", "worker"]


class SendOutcome(StrEnum):
    SENT = "sent"
    QUEUED = "queued"
    RETRY = "retry"
    FAILED = "failed"


MESSAGES = Counter(
    "qualifica_assistant_messages", "Assistant message send tries, by path and outcome", ["path", "outcome"]
)
REFUSALS = Counter(
    "qualifica_assistant_send_refusals",
    "Assistant sends refused before calling Meta, by error code",
    ["code"],
)
SEND_SECONDS = Histogram(
    "qualifica_assistant_send_seconds",
    "Duration of an assistant send's Meta call (slot wait included)",
    ["path"],
    buckets=(0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0),
)
STATUSES = Counter(
    "qualifica_assistant_statuses", "Message statuses from Meta that changed a sent message", ["status"]
)


def tried(path: SendPath, outcome: SendOutcome, seconds: float | None = None) -> None:
    MESSAGES.labels(path=path, outcome=outcome.value).inc()
    if seconds is not None:
        SEND_SECONDS.labels(path=path).observe(seconds)


def refused(code: str) -> None:
    REFUSALS.labels(code=code).inc()


def status_changed(status: str) -> None:
    STATUSES.labels(status=status).inc()


# ``qualifica_assistant_events_total{type}``: events written for the assistant (a redelivery writes none).
# ``qualifica_assistant_pushes_total{outcome}``: pushes to QUALIFICA_ASSISTANT_WEBHOOK_URL — ``delivered``
# (a 2xx) or ``failed`` (anything else, or no answer: that organization waits its backoff).
EVENTS = Counter("qualifica_assistant_events", "Events written for the assistant, by type", ["type"])
PUSHES = Counter("qualifica_assistant_pushes", "Event pushes to the assistant's URL, by outcome", ["outcome"])


def event_written(kind: str) -> None:
    EVENTS.labels(type=kind).inc()


def pushed(outcome: Literal["delivered", "failed"]) -> None:
    PUSHES.labels(outcome=outcome).inc()
