"""One Meta app for the whole test suite, shared by the Settings under test and the live sandbox."""

from __future__ import annotations

from pydantic import SecretStr

from qualifica.config import Settings

APP_ID = "123456789012345"
APP_SECRET = "contract-app-secret-7f3a9c"
CONFIG_ID = "555000111222333"
VERIFY_TOKEN = "verify-me-webhooks"


def sandbox_settings() -> Settings:
    return Settings(
        _env_file=None,
        meta_app_id=APP_ID,
        meta_app_secret=SecretStr(APP_SECRET),
        meta_config_id=CONFIG_ID,
        meta_webhook_verify_token=SecretStr(VERIFY_TOKEN),
    )


RETRY_ATTEMPTS = 5  # stamina attempts per Graph call under test (no sleeping between them)
