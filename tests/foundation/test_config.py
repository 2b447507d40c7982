from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest
from pydantic import ValidationError

from qualifica.config import Settings, parse_key_ring
from tests.support.keys import encryption_key

GOOD_KEY = encryption_key()


def production(**overrides: object) -> Settings:
    values: dict[str, Any] = {
        "environment": "production",
        "secret_key": secrets.token_urlsafe(48),
        "encryption_keys": f"k1:{GOOD_KEY}",
        "base_url": "https://app.qualifica.example",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


class TestProductionGuard:
    def test_complete_production_settings_load(self) -> None:
        assert production().is_production

    @pytest.mark.parametrize("field", ["secret_key", "encryption_keys"])
    def test_missing_secret_is_refused_by_name(self, field: str) -> None:
        with pytest.raises(ValidationError, match=f"QUALIFICA_{field.upper()}"):
            production(**{field: None})

    @pytest.mark.parametrize("placeholder", ["changeme", "CHANGEME-please", "secret", ""])
    def test_placeholder_secret_key_is_refused(self, placeholder: str) -> None:
        with pytest.raises(ValidationError, match="QUALIFICA_SECRET_KEY"):
            production(secret_key=placeholder)

    def test_short_secret_key_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="at least 32"):
            production(secret_key="a-real-but-short-key")

    def test_sandbox_is_refused_in_production(self) -> None:
        with pytest.raises(ValidationError, match="QUALIFICA_SANDBOX"):
            production(sandbox=True)

    def test_development_accepts_missing_secrets(self) -> None:
        assert Settings(_env_file=None).secret_key is None


class TestSettings:
    def test_unknown_variable_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("QUALIFICA_DATABSE_URL", "sqlite:///typo.db")
        with pytest.raises(ValidationError, match="QUALIFICA_DATABSE_URL"):
            Settings(_env_file=None)

    def test_origins_come_from_a_comma_separated_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(
            "QUALIFICA_META_MESSAGE_ORIGINS", "https://www.facebook.com, https://web.facebook.com"
        )
        settings = Settings(_env_file=None)
        assert settings.meta_message_origins == ["https://www.facebook.com", "https://web.facebook.com"]

    def test_an_origin_with_a_path_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="is not an origin"):
            Settings(_env_file=None, meta_message_origins="https://www.facebook.com/x")

    def test_sandbox_points_every_meta_url_at_itself(self) -> None:
        settings = Settings(_env_file=None, sandbox=True, base_url="http://127.0.0.1:9000")
        assert settings.meta_graph_url == "http://127.0.0.1:9000/_sandbox/meta"
        assert settings.meta_sdk_url == "http://127.0.0.1:9000/_sandbox/meta/sdk.js"
        assert settings.meta_message_origins == ["http://127.0.0.1:9000"]

    def test_defaults_follow_the_contract(self) -> None:
        settings = Settings(_env_file=None)
        assert settings.meta_graph_url == "https://graph.facebook.com"
        assert settings.meta_graph_version == "v26.0"
        assert settings.callback_deadline_seconds == 2.5
        assert settings.meta_message_origins == ["https://www.facebook.com", "https://web.facebook.com"]


class TestKeyRing:
    def test_first_key_is_primary_and_url_safe_base64_is_accepted(self) -> None:
        raw = secrets.token_bytes(32)
        url_safe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        ring = parse_key_ring(f"new:{GOOD_KEY},old:{url_safe}")
        assert [kid for kid, _ in ring] == ["new", "old"]
        assert ring[1][1] == raw

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ("nokid", "kid:base64key"),
            (f"a:{base64.b64encode(b'short').decode()}", "32 bytes"),
            ("a:!!!notbase64", "not valid base64"),
            (f"a:{GOOD_KEY},a:{GOOD_KEY}", "appears twice"),
        ],
    )
    def test_bad_key_rings_are_refused(self, raw: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            parse_key_ring(raw)
