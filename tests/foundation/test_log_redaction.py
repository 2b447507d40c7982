"""Secrets in every textual form a log line may carry them, as production renders it (ARCHITECTURE §6, §13):
JSON, Python reprs, URL queries and forms, and bare Meta tokens; ordinary words stay."""

from __future__ import annotations

import io
import json
import logging

import pytest

from qualifica.logging import get_logger
from qualifica.meta.logfilter import install_http_log_scrubber

TOKEN = "EAAGm0PX4ZCpsBAKZCZBx7ZAhv3qT0kZCjZBiZAvD4ZCWlpn3ZCXJ5ZAZBqZBZC"  # made up
CODE = "AQBx7Zq1n0tAreAlC0de_Lp9"
APP_SECRET = "0123456789abcdef0123456789abcdef"
PROOF = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

# form → (text carrying secrets, the secrets)
FORMS = {
    "json": (f'{{"access_token": "{TOKEN}", "token_type": "bearer", "expires_in": 5183944}}', [TOKEN]),
    "json_compact": (f'{{"access_token":"{TOKEN}","client_secret":"{APP_SECRET}"}}', [TOKEN, APP_SECRET]),
    "json_code_and_pin": (
        f'{{"code": "{CODE}", "pin": "123456", "registration_pin": 654321}}',
        [CODE, "123456", "654321"],
    ),
    "json_appsecret_proof": (f'{{"appsecret_proof": "{PROOF}"}}', [PROOF]),
    "repr_dict": (f"{{'access_token': '{TOKEN}', 'app_secret': '{APP_SECRET}'}}", [TOKEN, APP_SECRET]),
    "repr_keywords": (f"Exchange(token='{TOKEN}', code=\"{CODE}\", pin='112233')", [TOKEN, CODE, "112233"]),
    "url_query": (f"GET /v25.0/me?access_token={TOKEN}&appsecret_proof={PROOF}&fields=id", [TOKEN, PROOF]),
    "form_body": (f"client_id=1&client_secret={APP_SECRET}&code={CODE}&grant_type=x", [APP_SECRET, CODE]),
    "url_inside_url": (f"next=https%3A%2F%2Fapp%2Fcb%3Fcode%3D{CODE}%26x%3D1", [CODE]),
    "form_pin": ("messaging_product=whatsapp&pin=445566", ["445566"]),
    "bare_token": (f"Meta said: Malformed access token {TOKEN}.", [TOKEN]),
    "oauth_header": (f"Authorization: OAuth {TOKEN[:-3]}xyz", [TOKEN[:-3]]),
}
ORDINARY = (
    'Meta error {"error": {"code": 190, "error_subcode": 463, "type": "OAuthException"}} '
    "error code=2494028; o PIN de 6 dígitos; token_type=bearer; pinned=yes; EAA curto; "
    "código expirado (code_expired); state machine; session_expired"
)


def rendered(buffer: io.StringIO) -> str:
    return buffer.getvalue()


@pytest.mark.parametrize("form", sorted(FORMS))
class TestEveryForm:
    def test_in_a_structlog_field(self, captured_logs: io.StringIO, form: str) -> None:
        text, secrets = FORMS[form]
        get_logger("test").warning("meta_answer", body=text)
        line = rendered(captured_logs)
        assert json.loads(line.splitlines()[-1])["event"] == "meta_answer"
        assert [secret for secret in secrets if secret in line] == []
        assert "[redacted]" in line

    def test_in_a_library_message(self, captured_logs: io.StringIO, form: str) -> None:
        text, secrets = FORMS[form]
        logging.getLogger("some.library").warning("request failed: %s", text)
        line = rendered(captured_logs)
        assert [secret for secret in secrets if secret in line] == []

    def test_in_an_exception(self, captured_logs: io.StringIO, form: str) -> None:
        text, secrets = FORMS[form]
        try:
            raise ValueError(text)
        except ValueError:
            get_logger("test").exception("boom")
        line = rendered(captured_logs)
        assert "ValueError" in line
        assert [secret for secret in secrets if secret in line] == []


def test_ordinary_words_and_error_codes_are_kept(captured_logs: io.StringIO) -> None:
    get_logger("test").info("explained", detail=ORDINARY)
    assert json.loads(rendered(captured_logs).splitlines()[-1])["detail"] == ORDINARY


@pytest.mark.parametrize("form", sorted(FORMS))
def test_http_library_records_are_scrubbed_without_our_formatter(form: str) -> None:
    """A process that never configured logging (a script, a test) still gets httpx's records scrubbed."""
    text, secrets = FORMS[form]
    install_http_log_scrubber()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("httpx")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("HTTP Request: %s", text)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert "HTTP Request" in buffer.getvalue()
    assert [secret for secret in secrets if secret in buffer.getvalue()] == []
