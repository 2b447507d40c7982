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
    }
)
_SECRET_SUFFIXES = ("token", "secret", "password", "_key", "keys", "_pin", "cookie")
# `name=value` inside free text (URLs in access logs, exception messages from libraries).
_SECRET_QUERY = re.compile(
    r"(?P<name>\b(?:access_token|input_token|fb_exchange_token|code|client_secret|app_secret|password|pin|"
    r"state|token|hub\.verify_token|verify_token)\b)=(?P<value>[^&\s\"']+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-|]+", re.IGNORECASE)
_APP_TOKEN = re.compile(r"\b(\d{5,})\|[A-Za-z0-9_\-]{8,}")


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_SUFFIXES)


def scrub_text(text: str) -> str:
    """Blank out secret values inside free text (query strings, bearer headers, app tokens)."""
    text = _SECRET_QUERY.sub(lambda m: f"{m.group('name')}={REDACTED}", text)
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    return _APP_TOKEN.sub(rf"\1|{REDACTED}", text)


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
