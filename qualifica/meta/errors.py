"""Meta's failure vocabulary: one ``MetaError`` built from Meta's envelope, classified transient or not.

Messages are built from Meta's own fields only, never from our request: a token, code, app secret or
PIN can therefore not end up in an exception text or a log line through us.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Retrying helps for these (docs/meta.md#graph-errors); everything else is permanent for the request as sent.
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, 80007, 80008, 130429, 131016, 131056, 131057, 133004})
# Rate limits (ARCHITECTURE §14; docs/meta.md#rate-limits): waited out, never retried inside a request, since
# hammering a throttled business use case only extends the block.
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80007, 80008, 130429})

CODE_EXPIRED_SUBCODE = 36007
CODE_REDIRECT_URI_SUBCODE = 36008
CODE_USED_SUBCODE = 36009
INVALID_TOKEN_CODE = 190
PIN_MISMATCH_CODE = 133005
REGISTRATION_LIMIT_CODE = 133016
# Older responses omit error_subcode; the message then tells which code failure it was
# (docs/meta.md#exchanging-the-code).
_CODE_MESSAGES = {
    "authorization code has expired": CODE_EXPIRED_SUBCODE,
    "authorization code has been used": CODE_USED_SUBCODE,
    "make sure your redirect_uri is identical": CODE_REDIRECT_URI_SUBCODE,
}
# Code 1 is usually a passing server error, but with this message it is a wrong app secret
# (docs/meta.md#exchanging-the-code).
_PERMANENT_MESSAGES = ("error validating client secret",)


class MetaError(Exception):
    """A failed Graph call. ``safe_message`` is Meta's ``error.message`` as sent, and safe to show."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        type: str | None = None,
        user_title: str | None = None,
        user_msg: str | None = None,
        is_transient: bool = False,
        fbtrace_id: str | None = None,
        http_status: int | None = None,
        endpoint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.subcode = subcode
        self.type = type
        self.user_title = user_title
        self.user_msg = user_msg
        self.is_transient = is_transient
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        self.endpoint = endpoint
        # Seconds until Meta lets us in again, from ``X-Business-Use-Case-Usage``'s
        # ``estimated_time_to_regain_access`` (set by the transport); None when the answer did not say.
        self.retry_after = retry_after
        super().__init__(self._describe())

    @property
    def transient(self) -> bool:
        return self.is_transient

    @property
    def is_rate_limit(self) -> bool:
        """A throttling answer: wait ``retry_after`` (or a default) before calling again."""
        return self.code in RATE_LIMIT_CODES

    @property
    def safe_message(self) -> str:
        return self.message

    @property
    def is_code_expired(self) -> bool:
        return self.code == 100 and self.subcode == CODE_EXPIRED_SUBCODE

    @property
    def is_code_used(self) -> bool:
        return self.code == 100 and self.subcode == CODE_USED_SUBCODE

    @property
    def is_invalid_token(self) -> bool:
        return self.code == INVALID_TOKEN_CODE

    @property
    def is_pin_mismatch(self) -> bool:
        return self.code == PIN_MISMATCH_CODE

    def _describe(self) -> str:
        where = f"{self.endpoint}: " if self.endpoint else ""
        codes = f"code={self.code}" + (f"/{self.subcode}" if self.subcode is not None else "")
        kind = "transient" if self.is_transient else "permanent"
        trace = f" fbtrace_id={self.fbtrace_id}" if self.fbtrace_id else ""
        return f"{where}Meta {kind} error {codes} HTTP {self.http_status}: {self.message}{trace}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()!r})"

    def scrubbed(self, secrets: Iterable[str]) -> MetaError:
        """Blank out any of our request's secrets Meta may echo (e.g. "Malformed access token EAA…")."""
        for secret in secrets:
            if secret:
                for name in ("message", "user_title", "user_msg"):
                    value = getattr(self, name)
                    if value and secret in value:
                        setattr(self, name, value.replace(secret, "[redacted]"))
        self.args = (self._describe(),)
        return self


class MetaTransportError(MetaError):
    """No usable answer from Meta: connection failure, timeout or a body that is not Meta's JSON."""

    def __init__(self, message: str, *, http_status: int | None = None, endpoint: str | None = None) -> None:
        super().__init__(message, is_transient=True, http_status=http_status, endpoint=endpoint)


class MetaTimeout(MetaTransportError):
    """The per-call deadline passed before Meta answered."""


def is_transient(code: int | None, *, flagged: bool, http_status: int | None, message: str = "") -> bool:
    if flagged:
        return True
    if any(text in message.lower() for text in _PERMANENT_MESSAGES):
        return False
    return code in TRANSIENT_CODES or (http_status is not None and http_status >= 500)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def error_from_envelope(
    payload: Mapping[str, Any], *, http_status: int, endpoint: str | None = None
) -> MetaError:
    """Build a ``MetaError`` from ``{"error": {...}}``; tolerant of missing or oddly typed fields."""
    raw = payload.get("error")
    error: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    message = _str_or_none(error.get("message")) or _str_or_none(raw) or f"HTTP {http_status} without message"
    code = _int_or_none(error.get("code"))
    subcode = _int_or_none(error.get("error_subcode"))
    if subcode is None and code == 100:
        lowered = message.lower()
        subcode = next((sub for text, sub in _CODE_MESSAGES.items() if text in lowered), None)
    flagged = error.get("is_transient") is True
    return MetaError(
        message,
        code=code,
        subcode=subcode,
        type=_str_or_none(error.get("type")),
        user_title=_str_or_none(error.get("error_user_title")),
        user_msg=_str_or_none(error.get("error_user_msg")),
        is_transient=is_transient(code, flagged=flagged, http_status=http_status, message=message),
        fbtrace_id=_str_or_none(error.get("fbtrace_id")),
        http_status=http_status,
        endpoint=endpoint,
    )
