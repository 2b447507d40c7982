"""Scenario knobs for tests and demos: latency, injected failures, auto-run popups, recorded requests."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from qualifica.meta.sandbox.world import TokenShape

LatencyKind = Literal["fixed", "uniform", "lognormal"]
Order = Literal["message_first", "callback_first", "random"]
ErrorField = Literal["error_code", "error_id", "both"]

# Meta's texts for codes a test may inject without spelling out a message (docs/meta.md#graph-errors).
DEFAULT_MESSAGES = {
    1: "An unknown error occurred",
    2: "An unexpected error has occurred. Please retry your request later.",
    4: "(#4) Application request limit reached",
    10: "(#10) Application does not have permission for this action",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    100: "(#100) Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    200: "(#200) Permissions error",
    341: "(#341) Application limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80007: "(#80007) Rate limit issue",
    130429: "(#130429) Rate limit hit",
    131026: "(#131026) Message undeliverable",
    131047: "(#131047) Re-engagement message",
    131000: "(#131000) Something went wrong",
    132000: "(#132000) Number of parameters does not match the expected number of params",
    132001: "(#132001) Template name does not exist in the translation",
    131016: "(#131016) Service unavailable",
    131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    131057: "(#131057) Business Account is in maintenance mode",
    133004: "(#133004) Server temporarily unavailable",
    133005: "(#133005) Two step verification PIN Mismatch",
    133016: "(#133016) Account register deregister rate limit exceeded",
    80008: "(#80008) There have been too many calls to this WhatsApp Business account",
}
_DEFAULT_STATUS = {2: 500, 131000: 500, 131016: 500, 131057: 500, 133004: 503}

AUTO_PATHS = (
    "finish",
    "finish_existing_number",
    "finish_new_waba",
    "finish_only_waba",
    "coexistence",
    "error",
    "close_no_code",
    # ES v4 endings and today's multi-asset businesses (docs/meta.md#embedded-signup-v4-endings,
    # docs/sandbox.md).
    "finish_unverified_number",
    "finish_no_number",
    "finish_two_wabas_no_event",
    "finish_two_numbers_no_phone_id",
)
CANCEL_STEPS = (
    "BUSINESS_ACCOUNT_SELECTION",
    "WABA_PHONE_PROFILE_PICKER",
    "WHATSAPP_BUSINESS_PROFILE_SETUP",
    "PHONE_NUMBER_SETUP",
    "PHONE_NUMBER_VERIFICATION",
    "PERMISSIONS",
)


@dataclass(frozen=True)
class Latency:
    kind: LatencyKind = "fixed"
    a: float = 0.0  # fixed seconds, uniform low, or lognormal median
    b: float = 0.0  # uniform high, or lognormal sigma
    cap: float = 30.0

    def sample(self, rng: random.Random) -> float:
        if self.kind == "uniform":
            value = rng.uniform(self.a, self.b)
        elif self.kind == "lognormal":
            value = rng.lognormvariate(0, self.b) * self.a
        else:
            value = self.a
        return max(0.0, min(value, self.cap))


@dataclass(frozen=True)
class Failure:
    """One injected Graph error (or, with ``raw_body``, a non-JSON answer like a proxy's error page)."""

    code: int = 2
    message: str | None = None
    subcode: int | None = None
    http_status: int | None = None
    is_transient: bool | None = None
    error_type: str = "OAuthException"
    raw_body: str | None = None
    # Rate limits: minutes put in X-Business-Use-Case-Usage's estimated_time_to_regain_access.
    regain_minutes: float | None = None
    # Cloud API errors explain themselves in ``error_data.details`` (reference 2026 §5.4).
    details: str | None = None
    # Only calls with this HTTP method take it (``POST``: the subscribe, not the read, of subscribed_apps).
    method: str | None = None

    def status(self) -> int:
        return self.http_status or _DEFAULT_STATUS.get(self.code, 400)

    def envelope(self, trace_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message or DEFAULT_MESSAGES.get(self.code, f"(#{self.code}) Error"),
            "type": self.error_type,
            "code": self.code,
            "fbtrace_id": trace_id,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        transient = self.is_transient if self.is_transient is not None else (True if self.code == 2 else None)
        if transient is not None:
            error["is_transient"] = transient
        return {"error": error}


@dataclass(frozen=True)
class AutoMode:
    """Which way the popup walks by itself; ``path`` is one of AUTO_PATHS or ``cancel:<STEP>``."""

    path: str
    order: Order = "random"
    delay_ms: int = 0

    def __post_init__(self) -> None:
        step = self.path.removeprefix("cancel:")
        if self.path not in AUTO_PATHS and not (self.path.startswith("cancel:") and step in CANCEL_STEPS):
            raise ValueError(f"unknown auto path {self.path!r}")
        if self.order not in ("message_first", "callback_first", "random"):
            raise ValueError(f"unknown order {self.order!r}")


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the sandbox received it (secrets included: the sandbox is Meta, tests inspect it)."""

    endpoint: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class Scenario:
    latency: dict[str, Latency] = field(default_factory=dict)
    failures: dict[str, deque[Failure]] = field(default_factory=dict)
    auto: AutoMode | None = None
    token_lifetime: int | None = None  # seconds; None: business tokens never expire (expires_at 0)
    send_expires_in: bool | None = None  # None: only when token_lifetime is set
    error_field: ErrorField = "error_code"
    coexistence_includes_phone: bool = False
    usage: dict[str, Any] | None = None  # fixed X-App-Usage/X-Business-Use-Case-Usage bodies
    # What debug_token says of tokens minted from now on (a shape name, not a secret).
    token_shape: TokenShape = "june_2026"  # noqa: S105
    history_sharing: bool = True  # False: the business declined; history answers error 2593109
    requests: list[RecordedRequest] = field(default_factory=list)
    # Sent messages: the statuses webhooks that follow each one, and the pause before each of them.
    message_statuses: tuple[str, ...] = ("sent", "delivered", "read")
    status_delay_seconds: float = 0.3
    service_window_enforced: bool = True  # False: free text outside the 24 h window is accepted

    def next_failure(self, endpoint: str, method: str) -> Failure | None:
        queue = self.failures.get(endpoint) or deque()
        for failure in queue:
            if failure.method is None or failure.method == method:
                queue.remove(failure)
                return failure
        return None
