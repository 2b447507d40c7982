"""Prometheus metrics of the signup funnel (names and labels exactly as ARCHITECTURE §7).

``step`` and ``error_code`` are closed sets (§13): a value outside them — a client's report is free text —
is counted as ``other``, so no request can add a series; the raw value stays in the database. The domain
holds each set where it defines the values (``whatsapp/steps.py``, ``whatsapp/catalogue.py``) as a
``ClosedLabel``, and ``failed``/``cancelled`` take only what a ``ClosedLabel`` returns (``Label``), so mypy
refuses raw text there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NewType

from prometheus_client import Counter, Histogram

from qualifica.errors import AppError

OTHER = "other"
Label = NewType("Label", str)  # a value of a closed set: only a ``ClosedLabel`` makes one


class ClosedLabel:
    """The values one label may take; anything else is reported as ``other``."""

    def __init__(self, known: Iterable[str], *, also: Callable[[], Iterable[str]] | None = None) -> None:
        self.known = frozenset(known)
        self._also = also  # values known elsewhere, read again on a miss (a class defined later counts)

    def __call__(self, value: str) -> Label:
        if value in self.known or (self._also is not None and value in set(self._also())):
            return Label(value)
        return Label(OTHER)


def error_tree_codes() -> Iterable[str]:
    """Every ``AppError`` code: our stable codes, which events and metrics report beside Meta's."""
    pending: list[type[AppError]] = [AppError]
    while pending:
        error = pending.pop()
        yield error.code
        pending.extend(error.__subclasses__())


STARTED = Counter("qualifica_embedded_signup_started", "Embedded Signup attempts started")
COMPLETED = Counter(
    "qualifica_embedded_signup_completed", "Embedded Signups saved as a connection", ["has_existing_number"]
)
FAILED = Counter("qualifica_embedded_signup_failed", "Embedded Signups that failed", ["error_code", "step"])
CANCELLED = Counter(
    "qualifica_embedded_signup_cancelled", "Embedded Signups cancelled in the popup", ["step"]
)
DURATION = Histogram(
    "qualifica_embedded_signup_duration_seconds",
    "Time from start to the saved connection",
    buckets=(5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200),
)
CALLBACK = Histogram(
    "qualifica_embedded_signup_callback_seconds",
    "Callback request latency",
    ["outcome"],
    buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0),
)
UNPROCESSED = Counter(
    "qualifica_embedded_signup_unprocessed_callbacks",
    "Callbacks whose processing did not finish: lease timed out, process crashed, or gave up",
)


def started() -> None:
    STARTED.inc()


def completed(*, has_existing_number: bool, seconds: float) -> None:
    COMPLETED.labels(has_existing_number=str(has_existing_number).lower()).inc()
    DURATION.observe(seconds)


def failed(*, error_code: Label, step: Label) -> None:
    FAILED.labels(error_code=error_code, step=step).inc()


def cancelled(*, step: Label) -> None:
    CANCELLED.labels(step=step).inc()


def callback(*, outcome: str, seconds: float) -> None:
    CALLBACK.labels(outcome=outcome).observe(seconds)


def unprocessed() -> None:
    UNPROCESSED.inc()
