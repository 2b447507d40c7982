"""structlog JSON logs with a redaction step: no token, code, secret, password, PIN, key or cookie leaves."""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
# Field names that hold a secret: exact names plus suffixes (``meta_app_secret``, ``encryption_keys``).
_SECRET_NAMES = frozenset(
    {
        "code",
        "auth_code",
        "oauth_code",
        "state",
        "pin",
        "registration_pin",
        "password",
        "key",
        "cookie",
        "cookies",
        "set-cookie",
        "authorization",
        "signature",
        "x-hub-signature-256",
        "session",
        "appsecret_proof",
    }
)
_SECRET_SUFFIXES = ("token", "secret", "password", "_key", "keys", "_pin", "cookie")
# Secret names inside free text: anything ending in token/secret/password (``access_token``,
# ``hub.verify_token``, ``client_secret``), and a few exact names. ``code`` is a secret only when it is not a
# number: Meta's ``"code": 190`` is an error code, the OAuth code is a long string.
_TEXT_NAMES = (
    r"(?P<name>[\w.\-]{0,64}(?:token|secret|password)|appsecret_proof|auth_code|oauth_code|code|"
    r"registration_pin|pin|state|api_key)"
)
_QUOTED_VALUE = r"(?P<quote>[\"'])(?P<value>(?:\\.|(?!(?P=quote)).)*)(?P=quote)"
_SECRET_FORMS = (
    # JSON and Python dict reprs: "access_token": "EAA…", 'pin': '123456'
    re.compile(rf"(?P<key>[\"']){_TEXT_NAMES}(?P=key)\s*:\s*{_QUOTED_VALUE}", re.IGNORECASE),
    # a PIN written as a number: "pin": 123456
    re.compile(r"(?P<key>[\"'])(?P<name>registration_pin|pin)(?P=key)\s*:\s*(?P<value>\d+)", re.IGNORECASE),
    # keyword reprs and assignments with a quoted value: token='EAA…', client_secret="…"
    re.compile(rf"\b{_TEXT_NAMES}\s*=\s*{_QUOTED_VALUE}", re.IGNORECASE),
    # URL queries and forms (also percent-encoded inside another URL): access_token=EAA…&, code%3DAQB…
    re.compile(rf"(?:\b|(?<=%3F)|(?<=%26)){_TEXT_NAMES}(?:=|%3D)(?P<value>[^&\s\"',;)\]}}]+)", re.IGNORECASE),
)
_BEARER = re.compile(r"((?:Bearer|OAuth)\s+)[A-Za-z0-9._\-|]+", re.IGNORECASE)
_APP_TOKEN = re.compile(r"\b(\d{5,})\|[A-Za-z0-9_\-]{8,}")
# Meta's user and business tokens, wherever they appear ("EAA" and a long alphanumeric run: no word is).
META_TOKEN = re.compile(r"\bEAA[A-Za-z0-9]{16,}")


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_SUFFIXES)


def _blank(match: re.Match[str]) -> str:
    value = match.group("value")
    if match.group("name").lower() == "code" and value.isdigit():
        return match.group(0)  # an error code, not Meta's OAuth code
    start, end = (edge - match.start() for edge in match.span("value"))
    return match.group(0)[:start] + REDACTED + match.group(0)[end:]


def scrub_text(text: str) -> str:
    """Blank out secret values inside free text: JSON, reprs, URL queries and forms, bearer headers, app
    tokens and bare Meta tokens."""
    for form in _SECRET_FORMS:
        text = form.sub(_blank, text)
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    text = _APP_TOKEN.sub(rf"\1|{REDACTED}", text)
    return META_TOKEN.sub(REDACTED, text)


def redact(value: Any, name: str = "") -> Any:
    if name and is_secret_name(name) and not isinstance(value, bool | int | float | type(None)):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if key in {"event", "level", "timestamp", "logger"}:
            event_dict[key] = scrub_text(value) if isinstance(value, str) else value
        else:
            event_dict[key] = redact(value, key)
    return event_dict


def _format_exception_safely(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    if "exception" in event_dict and isinstance(event_dict["exception"], str):
        event_dict["exception"] = scrub_text(event_dict["exception"])
    return event_dict


SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def build_formatter() -> logging.Formatter:
    """The one formatter every handler uses: shared processors, redaction, JSON."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*SHARED_PROCESSORS, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_processor,
            structlog.processors.format_exc_info,
            _format_exception_safely,
            structlog.processors.JSONRenderer(),
        ],
    )


def configure_logging(level: str = "INFO") -> None:
    """Route structlog and the standard library (uvicorn, alembic) through one redacting JSON renderer."""
    structlog.configure(
        processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(build_formatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    # httpx/httpcore log full URLs, and the code exchange carries the app secret in its query string;
    # aiosqlite logs every statement with its parameters (a lead's messages) at debug.
    for name in ("httpx", "httpcore", "aiosqlite"):
        logging.getLogger(name).setLevel(logging.WARNING)


def stack_of(error: BaseException) -> list[str]:
    """The frames an exception went through, ``function (file:line)``, innermost last, without its message:
    a message may quote a secret or, from the database, the very value it refused."""
    return [
        f"{frame.name} ({frame.filename}:{frame.lineno})"
        for frame in traceback.extract_tb(error.__traceback__)
    ]


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
