"""Prometheus metrics of the mails to agency admins (ARCHITECTURE §16).

``qualifica_mails_total{kind, outcome}``: each delivery try of an outbox row — ``sent``, ``retry`` (the server
refused or could not be reached; tried again later) or ``failed`` (out of attempts: support resends it).
"""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import Counter


class MailOutcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


MAILS = Counter(
    "qualifica_mails", "Mails to agency admins, by kind and delivery outcome", ["kind", "outcome"]
)


def delivered(kind: str, outcome: MailOutcome) -> None:
    MAILS.labels(kind=kind, outcome=outcome.value).inc()
