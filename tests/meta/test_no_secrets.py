"""No token, code, app secret or PIN in any log line or exception text, across successes and failures."""

from __future__ import annotations

import logging
import traceback

import pytest
from structlog.testing import capture_logs

from qualifica.meta.client import GraphClient
from qualifica.meta.errors import MetaError
from qualifica.meta.sandbox import Sandbox
from tests.support.meta import APP_ID, APP_SECRET
from tests.support.sandbox import LiveSandbox

PIN, OTHER_PIN = "482913", "773311"


async def test_no_secret_leaves_through_logs_or_errors(
    graph: GraphClient, sandbox: Sandbox, live_sandbox: LiveSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Production silences httpx (configure_logging); here it speaks, to prove its lines are scrubbed too.
    caplog.set_level(logging.DEBUG, logger="httpx")
    errors: list[MetaError] = []
    secrets = [APP_SECRET, f"{APP_ID}|{APP_SECRET}", PIN, OTHER_PIN]

    async def expect_error(call: object) -> None:
        try:
            await call  # type: ignore[misc]
        except MetaError as error:
            errors.append(error)
        else:
            raise AssertionError("expected a MetaError")

    with capture_logs() as structured:
        result = sandbox.complete_signup()
        code = str(result.code)
        token = (await graph.exchange_code(code)).access_token
        secrets += [code, token]
        await expect_error(graph.exchange_code(code))  # used code
        await graph.debug_token(token)
        sandbox.fail_next("register", 2, code=2)
        await graph.register_phone(str(result.phone_number_id), PIN, token=token)
        await expect_error(graph.register_phone(str(result.phone_number_id), OTHER_PIN, token=token))
        sandbox.fail_next("waba", 1, code=190, message=f"Malformed access token {token}")
        await expect_error(graph.get_waba(str(result.waba_id), token=token))
        wrong = GraphClient(
            graph._http,
            graph_url=live_sandbox.url,
            version="v25.0",
            app_id=APP_ID,
            app_secret=APP_SECRET + "x",
        )
        secrets.append(APP_SECRET + "x")
        await expect_error(wrong.exchange_code(code))
        await expect_error(wrong.app_check())
        await graph.app_check()

    assert len(errors) == 5
    assert any(r.name == "httpx" for r in caplog.records), "httpx's own request lines must be captured too"
    assert "client_secret=[redacted]" in caplog.text
    texts = [repr(entry) for entry in structured]
    texts += [record.getMessage() for record in caplog.records]
    texts += [caplog.text]
    for error in errors:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"secret leaked into: {text[:200]}"
    graph_lines = [e for e in structured if e["event"] == "meta.graph.request"]
    assert {"endpoint", "status", "duration_ms", "meta_code", "fbtrace_id"} <= set(graph_lines[0])
    assert any(e["meta_code"] == 133005 and e["fbtrace_id"] for e in graph_lines)
