"""What must not confuse the page: foreign and noisy messages, double clicks, a half-finished popup."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from qualifica.whatsapp.models import EmbeddedSignupAttempt
from tests.e2e.pilot import SETTINGS_PATH, Pilot, meta_error
from tests.support.live import serve_in_thread
from tests.support.meta import APP_ID, CONFIG_ID

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

FOREIGN_WABA = "999999999999999"
FINISH = {
    "type": "WA_EMBEDDED_SIGNUP",
    "event": "FINISH",
    "data": {"waba_id": FOREIGN_WABA, "phone_number_id": "888888888888888", "business_id": "777777777777777"},
    "version": 3,
}
LOGIN_LOST = "a janela da Meta não devolveu a autorização"
# A stand-in SDK whose FB.login never calls back: the popup "finished" but its login callback is lost.
SILENT_SDK = """
window.FB = {
  __sandbox: true,
  init: (options) => { window.__fbInit = options; },
  login: (callback, options) => { window.__fbLogin = options; window.__fbCallback = callback; },
};
"""


def foreign_app() -> Starlette:
    """Another origin posting a perfect FINISH (as a string and as an object) to the window that opened it."""

    async def index(_: Request) -> HTMLResponse:
        message = json.dumps(FINISH)
        script = (
            f"const message = {json.dumps(message)};"
            "window.opener.postMessage(message, '*');"
            "window.opener.postMessage(JSON.parse(message), '*');"
            "document.title = 'enviado';"
        )
        return HTMLResponse(f"<!doctype html><title>outra origem</title><script>{script}</script>")

    return Starlette(routes=[Route("/", index)])


@pytest.fixture(scope="module")
def foreign_origin() -> Iterator[str]:
    with serve_in_thread(foreign_app(), health_path=None) as url:
        yield url


async def attempts(pilot: Pilot) -> int:
    count = await pilot.db.scalar(select(func.count()).select_from(EmbeddedSignupAttempt))
    return int(count or 0)


async def post(page: Page, *messages: object) -> None:
    await page.evaluate("(messages) => messages.forEach((m) => window.postMessage(m, '*'))", list(messages))


class TestMessages:
    async def test_finish_from_a_foreign_origin_is_ignored(self, pilot: Pilot, foreign_origin: str) -> None:
        await pilot.goto()
        pilot.live.sandbox.set_auto("finish", "message_first", delay_ms=350)  # slow enough to post first
        await pilot.open_instructions()
        async with pilot.page.expect_popup():
            await pilot.button("Iniciar conexão").click()
        async with pilot.page.expect_popup() as opened:
            await pilot.page.evaluate("(url) => { window.open(url, 'outra'); }", foreign_origin + "/")
        foreign = await opened.value
        await expect(foreign).to_have_title("enviado")
        assert await pilot.panel() == "connecting"

        await pilot.expect_connected()
        connection = (await pilot.status())["connection"]
        assert connection["waba_id"] != FOREIGN_WABA
        attempt = await pilot.db.scalar(select(EmbeddedSignupAttempt))
        assert attempt is not None and attempt.waba_id == connection["waba_id"]
        assert pilot.console_errors() == []

    async def test_noise_messages_are_ignored(self, pilot: Pilot) -> None:
        await pilot.goto()
        pilot.live.sandbox.set_auto("finish", "callback_first", delay_ms=250)
        await pilot.open_instructions()
        async with pilot.page.expect_popup():
            await pilot.button("Iniciar conexão").click()
        await post(
            pilot.page,
            "cb=1234abcd",
            "cb=1234abcd&relation=opener&frame=f1a2b3c4d5",
            '{"type": "WA_EMBEDDED_SIGNUP", "event": "FINISH", "data": {',  # malformed JSON
            "null",
            json.dumps({"type": "OTHER", "event": "FINISH", "data": FINISH["data"]}),
            json.dumps({"type": "WA_EMBEDDED_SIGNUP", "event": "PAGE_LOADED", "data": {}}),
            {"type": "WA_EMBEDDED_SIGNUP", "event": "finish; drop", "data": FINISH["data"]},
            {"type": "WA_EMBEDDED_SIGNUP"},
            42,
        )
        assert await pilot.panel() == "connecting"
        await pilot.expect_connected()
        connection = (await pilot.status())["connection"]
        assert connection["waba_id"] != FOREIGN_WABA
        assert pilot.console_errors() == []


class TestOneAttemptAtATime:
    async def test_double_click_starts_one_attempt(self, pilot: Pilot) -> None:
        await pilot.goto()
        pilot.live.sandbox.set_auto("finish", "message_first")
        await pilot.open_instructions()
        popups: list[Page] = []
        pilot.context.on("page", lambda popup: popups.append(popup))
        start = pilot.button("Iniciar conexão")
        # Two clicks in the same task: the second lands before the first has shown another panel.
        await start.evaluate("(button) => { button.click(); button.click(); }")
        await pilot.expect_connected()
        assert await attempts(pilot) == 1
        assert await pilot.events("Embedded Signup Started") == [{}]
        assert len(popups) == 1

    async def test_watchdog_turns_a_half_finished_flow_into_a_message(self, pilot: Pilot) -> None:
        await pilot.page.add_init_script(SILENT_SDK)
        await pilot.goto(SETTINGS_PATH + "?watchdog_ms=500")
        await pilot.open_instructions()
        assert await pilot.message_listeners() == 0
        await pilot.button("Iniciar conexão").click()
        await expect(pilot.page.locator('[data-field="step"]')).to_have_text(
            "Conclua as etapas na janela da Meta. Esta página acompanha tudo."
        )
        assert await pilot.message_listeners() == 1  # listening only while an attempt runs
        assert await pilot.page.evaluate("window.__fbInit") == {
            "appId": APP_ID,
            "autoLogAppEvents": True,
            "xfbml": False,
            "version": "v26.0",
        }
        assert await pilot.page.evaluate("window.__fbLogin") == {
            "config_id": CONFIG_ID,
            "response_type": "code",
            "override_default_response_type": True,
            "extras": {"setup": {}},
        }
        real_waba = next(iter(pilot.live.sandbox.world.wabas))
        await post(pilot.page, json.dumps(FINISH | {"data": {"waba_id": real_waba}}))

        await pilot.expect_panel("failed")
        await expect(pilot.alert()).to_have_text(meta_error(LOGIN_LOST))
        await expect(pilot.page.locator('[data-field="error-hint"]')).to_contain_text(
            "Abrir em página inteira"
        )
        assert await pilot.events("Embedded Signup Failed") == [
            {"error_code": "login_timeout", "error_message": LOGIN_LOST, "step_failed": "login"}
        ]
        assert await pilot.message_listeners() == 0
        # Settled means deaf: a late login callback or message changes nothing, on the page or the server.
        await pilot.page.evaluate(
            "window.__fbCallback({authResponse: {code: 'late-code'}, status: 'connected'})"
        )
        await post(pilot.page, json.dumps(FINISH))
        await pilot.page.wait_for_timeout(700)
        assert await pilot.panel() == "failed"
        assert not pilot.live.sandbox.requests("oauth_access_token")
        assert len(await pilot.events("Embedded Signup Failed")) == 1
        status = await pilot.status()
        assert status["status"] == "not_connected" and status["error"]["message"] == LOGIN_LOST
