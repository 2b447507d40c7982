"""``X-Hub-Signature-256``: ``sha256=`` + hex HMAC-SHA256 of the raw body, keyed with the app secret."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return PREFIX + digest


def verify(body: bytes, header: str | None, app_secret: str) -> bool:
    """True only for a ``sha256=`` header matching the body; compared in constant time."""
    if not header or not header.startswith(PREFIX) or not app_secret:
        return False
    return hmac.compare_digest(sign(body, app_secret).encode(), header.strip().encode())
