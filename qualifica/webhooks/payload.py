"""Reading Meta's webhook envelope: ``{"object", "entry": [{"id", "time"?, "changes": [{field, value}]}]}``.

Pure functions, tolerant of every shape: a body that is not the envelope yields no changes rather than an
error, and each change is reduced to what routing needs plus its value as sent.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qualifica.observability.webhook_metrics import MIXED_FIELD

MAX_ID = 64


@dataclass(frozen=True)
class Change:
    position: int
    field: str
    entry_id: str | None
    waba_id: str | None  # the routing key: waba_info.waba_id on account events, else the entry id
    occurred_at: datetime | None
    value: dict[str, Any]


# Escapes that decode to what PostgreSQL cannot hold: NUL (text and JSONB) and UTF-16 surrogates, which a
# valid pair turns into one character but which alone cannot be encoded as UTF-8.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):  # 1e400 parses as infinity, which JSON cannot write back
        raise ValueError("a number out of range is not JSON")
    return number


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: ``json.loads`` with hooks builds a decoder per call (a third of a small body's parse time).
_DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_no_constant)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def load(payload: str) -> Any:
    """Parse a stored body into what both databases can hold (JSONB included).

    NaN, Infinity and numbers out of range are refused (they are not JSON: RFC 8259); NUL and lone
    surrogates in strings and keys become U+FFFD. Only a body holding such an escape is walked.
    """
    document = _DECODER.decode(payload)
    return _clean(document) if _SUSPECT_ESCAPE.search(payload) else document


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:MAX_ID] or None


def _time(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 2**33:
        return datetime.fromtimestamp(value, UTC)
    return None


def routing_waba(entry_id: str | None, value: dict[str, Any]) -> str | None:
    """``entry.id`` of a PARTNER_* event is a partner business, not the WABA: prefer ``waba_info``."""
    info = value.get("waba_info")
    if isinstance(info, dict) and _text(info.get("waba_id")):
        return _text(info.get("waba_id"))
    return entry_id


def split(document: Any) -> list[Change]:
    """Every ``entry[].changes[]`` item, in order; items that are not objects are skipped."""
    changes: list[Change] = []
    entries = document.get("entry") if isinstance(document, dict) else None
    for item in entries if isinstance(entries, list) else []:
        if not isinstance(item, dict):
            continue
        entry_id = _text(item.get("id"))
        listed = item.get("changes")
        for change in listed if isinstance(listed, list) else []:
            if not isinstance(change, dict):
                continue
            raw_value = change.get("value")
            value = raw_value if isinstance(raw_value, dict) else {"value": raw_value}
            changes.append(
                Change(
                    position=len(changes),
                    field=(_text(change.get("field")) or "unknown"),
                    entry_id=entry_id,
                    waba_id=routing_waba(entry_id, value),
                    occurred_at=_time(item.get("time")),
                    value=value,
                )
            )
    return changes


@dataclass(frozen=True)
class Summary:
    """What the inbox row records about a body before it is split: one field/WABA, or none."""

    field: str | None
    waba_id: str | None
    changes: int


def summarize(changes: list[Change]) -> Summary:
    fields = {change.field for change in changes}
    wabas = {change.waba_id for change in changes}
    field = fields.pop() if len(fields) == 1 else (MIXED_FIELD if fields else None)
    waba_id = wabas.pop() if len(wabas) == 1 else None
    return Summary(field=field, waba_id=waba_id, changes=len(changes))


def read(body: bytes) -> list[Change]:
    """The changes of a raw body; none when it is not JSON."""
    try:
        return split(load(body.decode("utf-8", errors="replace")))
    except (ValueError, RecursionError):
        return []
