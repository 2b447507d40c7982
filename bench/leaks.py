"""Secret-leak scan: every secret a run created, searched for in every log line the run wrote.

Used by the benchmarks (their service and sandbox logs) and by ``tests/reliability`` (subprocess logs and
pytest's own captured logs). The sandbox is Meta: its request log holds every code we exchanged, every
token we sent back (``Authorization: Bearer``) and every PIN we registered — the secrets Meta gave us.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

MIN_LENGTH = 6  # shorter values (e.g. nothing) would match by chance; every secret here is longer


@dataclass(frozen=True)
class Hit:
    path: str
    line: int
    secret_kind: str


def secrets_in_requests(requests: Iterable[dict[str, Any]]) -> dict[str, str]:
    """``secret → kind`` for the codes, tokens, app secrets and PINs in the sandbox's request log."""
    found: dict[str, str] = {}
    for request in requests:
        query: dict[str, str] = request.get("query") or {}
        headers: dict[str, str] = {k.lower(): v for k, v in (request.get("headers") or {}).items()}
        body = request.get("body") if isinstance(request.get("body"), dict) else {}
        for name in ("code", "client_secret", "access_token", "input_token"):
            if query.get(name):
                found[unquote(query[name])] = name
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            found[auth[7:].strip()] = "token"
        if body and body.get("pin"):
            found[str(body["pin"])] = "pin"
    return found


def sandbox_secrets(sandbox_url: str) -> dict[str, str]:
    requests = httpx.get(sandbox_url + "/_control/requests", timeout=30).json()
    return secrets_in_requests(requests)


def scan(paths: Iterable[Path], secrets: dict[str, str]) -> tuple[int, list[Hit]]:
    """(lines scanned, hits). A PIN is 6 digits: it counts only outside longer digit runs (ids) and not
    after a dot (the microseconds of every timestamp, ``09:39:44.921488Z``, would match by chance)."""
    patterns = {
        value: re.compile(rf"(?<![\d.]){re.escape(value)}(?!\d)") if value.isdigit() else None
        for value in secrets
        if len(value) >= MIN_LENGTH
    }
    lines, hits = 0, []
    for path in paths:
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            lines += 1
            for value, pattern in patterns.items():
                found = pattern.search(line) is not None if pattern else value in line
                if found:
                    hits.append(Hit(str(path), number, secrets[value]))
    return lines, hits


def report(paths: Iterable[Path], secrets: dict[str, str]) -> str:
    listed = list(paths)
    lines, hits = scan(listed, secrets)
    text = f"secret leak scan: {len(secrets)} secrets × {lines} log lines in {len(listed)} files: "
    text += f"{len(hits)} hits"
    for hit in hits[:5]:
        text += f"\n  LEAK {hit.secret_kind} in {hit.path}:{hit.line}"
    return text
