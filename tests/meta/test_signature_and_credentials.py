"""Webhook signatures and the one source of Meta app credentials."""

from __future__ import annotations

import hashlib
import hmac

import httpx

from qualifica.config import Settings
from qualifica.meta.client import GraphClient
from qualifica.meta.credentials import SANDBOX_APP_ID, SANDBOX_APP_SECRET, effective_credentials
from qualifica.meta.signature import sign, verify

BODY = b'{"object":"whatsapp_business_account","entry":[]}'


class TestSignature:
    def test_sign_is_prefixed_hex_hmac_sha256(self) -> None:
        expected = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
        assert sign(BODY, "s3cret") == "sha256=" + expected

    def test_verify_accepts_own_signature(self) -> None:
        assert verify(BODY, sign(BODY, "s3cret"), "s3cret")

    def test_verify_rejects_other_secret_body_or_missing_prefix(self) -> None:
        header = sign(BODY, "s3cret")
        assert not verify(BODY, header, "other")
        assert not verify(BODY + b" ", header, "s3cret")
        assert not verify(BODY, header.removeprefix("sha256="), "s3cret")
        assert not verify(BODY, None, "s3cret")
        assert not verify(BODY, "", "s3cret")

    def test_verify_refuses_an_empty_secret(self) -> None:
        assert not verify(BODY, sign(BODY, ""), "")


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


class TestEffectiveCredentials:
    def test_sandbox_mode_fills_empty_values_with_the_fake_app(self) -> None:
        credentials = effective_credentials(settings(sandbox=True))
        assert (credentials.app_id, credentials.app_secret) == (SANDBOX_APP_ID, SANDBOX_APP_SECRET)
        assert credentials.config_id

    def test_configured_values_win_even_in_sandbox_mode(self) -> None:
        credentials = effective_credentials(settings(sandbox=True, meta_app_id="42", meta_app_secret="x"))
        assert (credentials.app_id, credentials.app_secret) == ("42", "x")

    def test_outside_sandbox_empty_stays_empty(self) -> None:
        credentials = effective_credentials(settings())
        assert (credentials.app_id, credentials.app_secret, credentials.config_id) == ("", "", "")

    def test_the_sandbox_itself_always_has_an_app(self) -> None:
        assert effective_credentials(settings(), sandbox=True).app_id == SANDBOX_APP_ID

    def test_secret_is_not_in_repr(self) -> None:
        assert SANDBOX_APP_SECRET not in repr(effective_credentials(settings(sandbox=True)))

    async def test_graph_client_from_settings_uses_them(self) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"access_token": "EAAx", "token_type": "bearer"})

        configured = settings(sandbox=True, base_url="http://demo.test:8000")
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            await GraphClient.from_settings(configured, http).exchange_code("AQcode")
        assert str(seen[0].url).startswith("http://demo.test:8000/_sandbox/meta/v26.0/oauth/access_token?")
        assert seen[0].url.params["client_id"] == SANDBOX_APP_ID
        assert seen[0].url.params["client_secret"] == SANDBOX_APP_SECRET
