"""The environment of a ``qualifica`` subprocess: the settings under test, as variables."""

from __future__ import annotations

import os

from pydantic import SecretStr

from qualifica.config import Settings

PASSED = ("database_url", "secret_key", "encryption_keys", "base_url", "meta_graph_url", "meta_app_id",
          "meta_app_secret", "meta_config_id", "meta_webhook_verify_token")  # fmt: skip


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    """This process's environment without any QUALIFICA_ variable, plus ``settings`` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIFICA_")}
    for name in PASSED:
        value = getattr(settings, name)
        env[f"QUALIFICA_{name.upper()}"] = (
            value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        )
    env.update({f"QUALIFICA_{name.upper()}": value for name, value in extra.items()})
    return env
