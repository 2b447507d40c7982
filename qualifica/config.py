"""One typed ``Settings`` for the whole service (environment prefix ``QUALIFICA_``)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from email.utils import parseaddr
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SANDBOX_PATH = "/_sandbox/meta"
WEBHOOK_PATH = "/api/v1/whatsapp/webhook"  # Meta's callback URL is the base URL plus this
# Values that only ever appear in examples; refusing them in production catches a copied `.env.example`.
PLACEHOLDERS = frozenset({"", "changeme", "change-me", "secret", "placeholder", "xxx", "todo"})


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class InsecureSettingsError(ValueError):
    """Production refuses to start with a missing or placeholder secret."""


def parse_key_ring(raw: str) -> list[tuple[str, bytes]]:
    """Parse ``kid:base64key,...`` (standard or URL-safe base64 of 32 bytes); the first key is primary."""
    ring: list[tuple[str, bytes]] = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        kid, sep, encoded = item.partition(":")
        if not sep or not kid or not kid.isalnum():
            raise ValueError("each encryption key must look like 'kid:base64key' with an alphanumeric kid")
        try:
            padded = encoded + "=" * (-len(encoded) % 4)
            key = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"encryption key '{kid}' is not valid base64") from None
        if len(key) != 32:
            raise ValueError(f"encryption key '{kid}' must be 32 bytes (AES-256), got {len(key)}")
        if any(existing == kid for existing, _ in ring):
            raise ValueError(f"encryption key id '{kid}' appears twice")
        ring.append((kid, key))
    return ring


def is_loopback_url(url: str) -> bool:
    """The URL's host is this machine: ``localhost``, 127.0.0.0/8 or ``::1``."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_placeholder(secret: SecretStr | None) -> bool:
    if secret is None:
        return True
    value = secret.get_secret_value().strip()
    return value.lower() in PLACEHOLDERS or value.lower().startswith(("changeme", "change-me", "replace"))


class Settings(BaseSettings):
    # Errors never echo the rejected input: it may be a key, a token or an SMTP URL with its password.
    model_config = SettingsConfigDict(
        env_prefix="QUALIFICA_", env_file=".env", extra="forbid", hide_input_in_errors=True
    )

    database_url: str = "sqlite:///./var/qualifica.db"
    secret_key: SecretStr | None = None
    encryption_keys: SecretStr | None = None
    environment: Environment = Environment.DEVELOPMENT
    sandbox: bool = False
    base_url: str = "http://127.0.0.1:8000"
    meta_app_id: str = ""
    meta_app_secret: SecretStr = SecretStr("")
    meta_config_id: str = ""
    meta_graph_url: str = "https://graph.facebook.com"
    # Meta's newest Graph version (docs/meta.md#graph-api-versions); its calendar: qualifica/meta/versions.py.
    meta_graph_version: str = "v26.0"
    # pt_BR: the SDK's own dialogs (the popup, its buttons) speak Brazilian Portuguese, as our pages do.
    meta_sdk_url: str = "https://connect.facebook.net/pt_BR/sdk.js"
    meta_message_origins: Annotated[list[str], NoDecode] = Field(
        default=["https://www.facebook.com", "https://web.facebook.com"]
    )
    meta_dialog_url: str = "https://www.facebook.com"
    meta_webhook_verify_token: SecretStr = SecretStr("")
    segment_write_key: SecretStr | None = None
    callback_deadline_seconds: float = Field(default=2.5, gt=0, le=25)
    # Beyond ARCHITECTURE §8: how often the connection health job checks every active connection.
    health_check_interval_seconds: int = Field(default=86400, ge=60)
    # ARCHITECTURE §13: failed logins per client IP in 5 minutes before 429 (per e-mail it is always 5).
    login_ip_limit: int = Field(default=100, ge=1)
    # ARCHITECTURE §13: proxies (IPs or CIDRs) whose X-Forwarded-For/-Proto are believed; none by default.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default=[])
    # §13: when set, ``GET /metrics`` answers only ``Authorization: Bearer <token>`` (required in production).
    metrics_token: SecretStr | None = None
    # §16: ``smtp://user:pass@host:port`` (``?starttls=true``) or ``smtps://`` (required in production).
    smtp_url: SecretStr | None = None
    # §16: the mails' sender (``Name <address>``).
    mail_from: str = "Qualifica Leads <nao-responda@qualificaleads.com.br>"
    # Beyond §8: without ``SMTP_URL`` (development, demo) every mail is also written here as an ``.eml`` file.
    mail_dir: Path = Path("var/mail")
    # §15: Meta's throughput per number, messages/s (reference 2026 §5.3: 80 by default; a coexistence
    # number is held to 20 whatever this says).
    assistant_send_rate: float = Field(default=80.0, gt=0, le=1000)
    # §15: queued messages per number beyond which a send answers 429 ``rate_limited``.
    assistant_queue_limit: int = Field(default=1000, ge=1)
    # §15: how long a send waits for Meta's answer before it answers 202 ``queued``.
    assistant_send_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # §15: every assistant event is also POSTed here, signed (Standard Webhooks) with the ``whsec_`` secret.
    assistant_webhook_url: str | None = None
    assistant_webhook_secret: SecretStr | None = None
    # Retention (days; 0 keeps forever): the worker deletes only what is settled and older than this.
    retention_login_failures_days: int = Field(default=1, ge=0)
    retention_sessions_days: int = Field(default=30, ge=0)  # after a session expired or was revoked
    retention_webhooks_days: int = Field(default=30, ge=0)
    retention_analytics_days: int = Field(default=90, ge=0)
    retention_attempts_days: int = Field(default=180, ge=0)
    retention_mail_days: int = Field(default=90, ge=0)
    retention_events_days: int = Field(default=30, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_variables(cls, data: object) -> object:
        """``extra="forbid"`` only sees arguments and .env; a mistyped environment variable must fail too."""
        known = {f"QUALIFICA_{name.upper()}" for name in cls.model_fields}
        unknown = sorted(name for name in os.environ if name.startswith("QUALIFICA_") and name not in known)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        return data

    @field_validator("meta_message_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("meta_message_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
                raise ValueError(f"'{origin}' is not an origin (scheme://host[:port])")
        return [origin.rstrip("/") for origin in origins]

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, proxies: list[str]) -> list[str]:
        """Each entry an IP or a network: a typo must fail here, not silently trust nobody (or everybody)."""
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"'{proxy}' is not an IP address or CIDR network") from None
        return proxies

    @field_validator("encryption_keys")
    @classmethod
    def _valid_key_ring(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            parse_key_ring(value.get_secret_value())
        return value

    @field_validator("metrics_token")
    @classmethod
    def _empty_token_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_shape(cls, value: SecretStr | None) -> SecretStr | None:
        """Checked without quoting it: the URL carries the SMTP password."""
        if value is None or not value.get_secret_value().strip():
            return None
        parts = urlsplit(value.get_secret_value().strip())
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname or not port_ok:
            raise ValueError("QUALIFICA_SMTP_URL must look like smtp://user:pass@host:port or smtps://…")
        return value

    @field_validator("assistant_webhook_url")
    @classmethod
    def _push_url_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("QUALIFICA_ASSISTANT_WEBHOOK_URL must be an http(s) URL")
        return value.strip()

    @field_validator("assistant_webhook_secret")
    @classmethod
    def _push_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        """Checked without quoting it."""
        if value is None or not value.get_secret_value().strip():
            return None
        raw = value.get_secret_value().strip()
        try:
            decoded = base64.b64decode(raw.removeprefix("whsec_") + "==", validate=False)
        except (binascii.Error, ValueError):
            decoded = b""
        if not raw.startswith("whsec_") or len(decoded) < 24:
            raise ValueError("QUALIFICA_ASSISTANT_WEBHOOK_SECRET must be whsec_ and base64 (24+ bytes)")
        return SecretStr(raw)

    @model_validator(mode="after")
    def _push_needs_its_secret(self) -> Self:
        if self.assistant_webhook_url and self.assistant_webhook_secret is None:
            raise ValueError("QUALIFICA_ASSISTANT_WEBHOOK_URL needs QUALIFICA_ASSISTANT_WEBHOOK_SECRET")
        return self

    @field_validator("mail_from")
    @classmethod
    def _mail_from_shape(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError(
                "QUALIFICA_MAIL_FROM must be an address, e.g. Qualifica Leads <nao-responda@exemplo.com.br>"
            )
        return value

    @field_validator("base_url", "meta_graph_url", "meta_dialog_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _point_meta_at_sandbox(self) -> Self:
        """With the sandbox on, every Meta URL points at the sandbox mounted inside this service."""
        if self.sandbox:
            root = self.base_url + SANDBOX_PATH
            self.meta_graph_url = root
            self.meta_dialog_url = root
            self.meta_sdk_url = root + "/sdk.js"
            self.meta_message_origins = [self.origin]
        return self

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        missing = [
            name
            for name, value in (
                ("QUALIFICA_SECRET_KEY", self.secret_key),
                ("QUALIFICA_ENCRYPTION_KEYS", self.encryption_keys),
            )
            if is_placeholder(value)
        ]
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < 32:
            missing.append("QUALIFICA_SECRET_KEY (at least 32 characters)")
        if self.sandbox:
            missing.append("QUALIFICA_SANDBOX (must be false in production)")
        if missing:
            # Whatever else would stop the service is named too: one message lists every problem.
            raise InsecureSettingsError(
                "production refuses missing or placeholder settings: "
                + ", ".join(missing + self.serving_problems())
            )
        return self

    def serving_problems(self) -> list[str]:
        """Why ``serve``/``worker`` must not start with these settings (§13); names, never values."""
        problems = []
        if self.sandbox_off_loopback:
            problems.append(
                "QUALIFICA_SANDBOX (only with a loopback QUALIFICA_BASE_URL: 127.0.0.1, ::1, localhost)"
            )
        if not self.is_production:
            return problems
        if urlsplit(self.base_url).scheme != "https" or not urlsplit(self.base_url).hostname:
            problems.append("QUALIFICA_BASE_URL (must be https://)")
        for name, value in (
            ("QUALIFICA_META_APP_ID", SecretStr(self.meta_app_id)),
            ("QUALIFICA_META_APP_SECRET", self.meta_app_secret),
            ("QUALIFICA_META_CONFIG_ID", SecretStr(self.meta_config_id)),
            ("QUALIFICA_META_WEBHOOK_VERIFY_TOKEN", self.meta_webhook_verify_token),
            ("QUALIFICA_METRICS_TOKEN", self.metrics_token),
            ("QUALIFICA_SMTP_URL", self.smtp_url),
        ):
            if is_placeholder(value):
                problems.append(f"{name} (empty or placeholder)")
        return problems

    def refuse_unsafe_start(self) -> None:
        """Called by ``serve``, ``worker`` and ``demo`` before anything starts."""
        problems = self.serving_problems()
        if problems:
            raise InsecureSettingsError("refusing to start; fix these settings: " + ", ".join(problems))

    def require_secret_key(self) -> str:
        if self.secret_key is None:
            raise InsecureSettingsError("QUALIFICA_SECRET_KEY is not set")
        return self.secret_key.get_secret_value()

    @property
    def sandbox_off_loopback(self) -> bool:
        """The sandbox's control API hands out recorded secrets: it runs only where only this machine
        reaches it (production refuses the sandbox outright)."""
        return self.sandbox and not self.is_production and not is_loopback_url(self.base_url)

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @cached_property
    def key_ring(self) -> list[tuple[str, bytes]]:
        if self.encryption_keys is None:
            return []
        return parse_key_ring(self.encryption_keys.get_secret_value())
