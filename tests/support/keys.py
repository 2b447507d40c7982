"""Fresh encryption keys in the form ``QUALIFICA_ENCRYPTION_KEYS`` takes them."""

from __future__ import annotations

import base64
import secrets


def encryption_key() -> str:
    """A new AES-256 key, standard base64."""
    return base64.b64encode(secrets.token_bytes(32)).decode()
