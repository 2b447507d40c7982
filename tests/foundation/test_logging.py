from __future__ import annotations

import io
import json
import logging

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Role
from qualifica.logging import get_logger, redact, scrub_text
from tests.support.factories import PASSWORD, make_org, make_user


def lines(buffer: io.StringIO) -> list[str]:
    return [line for line in buffer.getvalue().splitlines() if line.strip()]


class TestRedaction:
    def test_secret_fields_are_blanked_at_any_depth(self) -> None:
        event = redact(
            {
                "access_token": "EAAxyz",
                "nested": {"client_secret": "s3cr3t", "pin": "123456"},
                "error_code": "190",
            }
        )
        assert event == {
            "access_token": "[redacted]",
            "nested": {"client_secret": "[redacted]", "pin": "[redacted]"},
            "error_code": "190",
        }

    def test_secrets_inside_urls_and_headers_are_blanked(self) -> None:
        text = scrub_text(
            "GET /oauth/access_token?client_id=1&client_secret=abc&code=AQD9 "
            "Authorization: Bearer EAAGm0 1234567|xYzSecretPart"
        )
        for secret in ("abc", "AQD9", "EAAGm0", "xYzSecretPart"):
            assert secret not in text
        assert "client_id=1" in text

    def test_structlog_lines_are_json_and_redacted(self, captured_logs: io.StringIO) -> None:
        get_logger("test").info("meta_call", endpoint="oauth/access_token", code="AQDsecretcode", status=200)
        record = json.loads(lines(captured_logs)[-1])
        assert record["endpoint"] == "oauth/access_token" and record["status"] == 200
        assert record["code"] == "[redacted]"

    def test_stdlib_messages_are_redacted(self, captured_logs: io.StringIO) -> None:
        logging.getLogger("uvicorn.access").info(
            '127.0.0.1 - "GET /callback?code=AQDleak&state=st8 HTTP/1.1" 303'
        )
        assert "AQDleak" not in captured_logs.getvalue() and "st8" not in captured_logs.getvalue()

    def test_exception_text_is_scrubbed(self, captured_logs: io.StringIO) -> None:
        try:
            raise RuntimeError("failed GET https://graph/x?access_token=EAAexceptional")
        except RuntimeError:
            get_logger("test").exception("boom")
        assert "EAAexceptional" not in captured_logs.getvalue()


class TestNoPasswordInLogs:
    async def test_login_never_logs_the_password(
        self, client: httpx.AsyncClient, db: AsyncSession, captured_logs: io.StringIO
    ) -> None:
        user = await make_user(db, await make_org(db), role=Role.ADMIN)
        await db.commit()
        await client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong-Passw0rd-xyz"})
        await client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        await client.post("/login", data={"email": user.email, "password": "form-Passw0rd-abc"})
        await client.post("/api/v1/auth/login", json={"email": [1], "password": "invalid-shape-Passw0rd"})
        get_logger("probe").info("probe")  # proves the capture works
        output = captured_logs.getvalue()
        assert "probe" in output
        for secret in (PASSWORD, "wrong-Passw0rd-xyz", "form-Passw0rd-abc", "invalid-shape-Passw0rd"):
            assert secret not in output
