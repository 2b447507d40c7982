"""Prometheus metrics of Meta webhooks and connection health.

``qualifica_webhook_events_total{field, outcome}`` is ARCHITECTURE §7. Beside it, the status-change and
health-check counters (a connection's status moved by Meta or by a health check; the outcome of each check)
keep small fixed label sets.
"""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import Counter

from qualifica.meta.webhook_subscription import SUBSCRIBED_FIELDS


class WebhookOutcome(StrEnum):
    """What became of a delivery at the endpoint or of a change in the worker: the metric's ``outcome``."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    INVALID_SIGNATURE = "invalid_signature"
    TOO_LARGE = "too_large"
    PROCESSED = "processed"
    UNMATCHED = "unmatched"
    FAILED = "failed"


UNKNOWN_FIELD = "unknown"  # the body was not (or could not be) read: bad signature, too large, not JSON
MIXED_FIELD = "mixed"  # a batched body whose changes have different fields
OTHER_FIELD = "other"
# A closed set (§13): the fields we subscribe to; anything else (a new field, a test event) is ``other``.
_FIELDS = frozenset({*SUBSCRIBED_FIELDS, MIXED_FIELD})

EVENTS = Counter(
    "qualifica_webhook_events",
    "Meta webhook deliveries and the changes split out of them",
    ["field", "outcome"],
)
STATUS_CHANGES = Counter(
    "qualifica_whatsapp_status_changes",
    "Connection status changes not made by a user (Meta webhooks, health checks)",
    ["status", "reason"],
)
HEALTH_CHECKS = Counter(
    "qualifica_whatsapp_health_checks",
    "Connection health checks by outcome (ok, token_expiring, token_invalid, failed)",
    ["outcome"],
)
# No labels: each one is our app put back on a WABA's subscribed_apps by the health check's watchdog.
SUBSCRIPTION_REPAIRS = Counter(
    "qualifica_webhook_subscription_repairs",
    "Webhook subscriptions of our app found missing on a WABA and restored by the health check",
)


def field_label(field: str | None) -> str:
    if field is None:
        return UNKNOWN_FIELD
    return field if field in _FIELDS else OTHER_FIELD


def event(*, field: str | None, outcome: WebhookOutcome) -> None:
    EVENTS.labels(field=field_label(field), outcome=outcome.value).inc()


def status_changed(*, status: str, reason: str) -> None:
    STATUS_CHANGES.labels(status=status, reason=reason).inc()


def health_check(*, outcome: str) -> None:
    HEALTH_CHECKS.labels(outcome=outcome).inc()


def subscription_repaired() -> None:
    SUBSCRIPTION_REPAIRS.inc()
