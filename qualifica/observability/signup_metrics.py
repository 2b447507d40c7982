"""Prometheus metrics of the signup funnel (names and labels exactly as ARCHITECTURE §7)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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


def failed(*, error_code: str, step: str) -> None:
    FAILED.labels(error_code=error_code, step=step).inc()


def cancelled(*, step: str) -> None:
    CANCELLED.labels(step=step).inc()


def callback(*, outcome: str, seconds: float) -> None:
    CALLBACK.labels(outcome=outcome).observe(seconds)


def unprocessed() -> None:
    UNPROCESSED.inc()
