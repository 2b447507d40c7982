"""Development and demo mode keep their own generated keys under ``./var/`` (never committed).

Every secret file there (``dev-secrets.json``, ``demo-credentials.json``) is owner-only (0600).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from qualifica.config import Settings
from qualifica.security.crypto import generate_key

DEV_SECRETS_FILE = Path("var") / "dev-secrets.json"


def keep_private(path: Path) -> None:
    """Owner-only (0600): a file made before this rule, or copied in, loses its group/other bits."""
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def write_private(path: Path, text: str) -> None:
    """Write a secret file that only its owner can read, from its first byte (no world-readable moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # ``os.open``'s mode applies only to a file it creates
        handle.write(text)


def with_dev_secrets(settings: Settings, path: Path = DEV_SECRETS_FILE) -> Settings:
    """Fill a missing secret key, encryption key ring or webhook verify token from (or into) ``path``.

    Production never gets here with a missing value: ``Settings`` refuses to load. (The sandbox's Meta
    app credentials come from ``qualifica.meta.credentials``.)
    """
    missing_verify_token = not settings.meta_webhook_verify_token.get_secret_value()
    if settings.is_production or (
        settings.secret_key and settings.encryption_keys and not missing_verify_token
    ):
        return settings
    if path.exists():
        keep_private(path)
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    generated = {
        "secret_key": stored.get("secret_key") or secrets.token_urlsafe(48),
        "encryption_keys": stored.get("encryption_keys") or f"dev1:{generate_key()}",
        "meta_webhook_verify_token": stored.get("meta_webhook_verify_token") or secrets.token_urlsafe(24),
    }
    if generated != stored:
        write_private(path, json.dumps(generated))
    update: dict[str, SecretStr] = {}
    if not settings.secret_key:
        update["secret_key"] = SecretStr(generated["secret_key"])
    if not settings.encryption_keys:
        update["encryption_keys"] = SecretStr(generated["encryption_keys"])
    if missing_verify_token:
        update["meta_webhook_verify_token"] = SecretStr(generated["meta_webhook_verify_token"])
    return settings.model_copy(update=update)
