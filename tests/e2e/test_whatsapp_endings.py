"""Every way the popup can end without a connection, and what the admin sees and can do next."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from qualifica.meta.sandbox.signup import USER_ERROR_CODE, USER_ERROR_MESSAGE
from tests.e2e.pilot import CANCELLED, EXPIRED, SETTINGS_PATH, Pilot, meta_error
from tests.support.signup import META_STEPS

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

CANCELLED_EVENT = "Embedded Signup Cancelled"
FAILED_EVENT = "Embedded Signup Failed"
FAST = SETTINGS_PATH + "?watchdog_ms=600"  # the wait for a late session message shrinks with the watchdog


async def expect_cancelled(pilot: Pilot, *steps: str) -> None:
    await pilot.expect_panel("cancelled")
    await expect(pilot.alert()).to_have_text(CANCELLED)
    await expect(pilot.button("Tentar novamente")).to_be_visible()
    await expect(pilot.button("Abrir em página inteira")).to_be_visible()
    status = await pilot.status()
    assert (status["status"], status["error"], status["connection"]) == ("not_connected", None, None)
    assert await pilot.events(CANCELLED_EVENT) == [{"step_cancelled": step} for step in steps]


class TestCancelled:
    async def test_cancel_at_each_meta_step_then_try_again(self, pilot: Pilot) -> None:
        await pilot.goto()
        await pilot.open_instructions()
        button, recorded = "Iniciar conexão", []
        for current_step, step in META_STEPS:
            pilot.live.sandbox.set_auto(f"cancel:{current_step}", "callback_first")
            await pilot.button(button).click()
            recorded.append(step)
            await expect_cancelled(pilot, *recorded)
            if current_step == "PHONE_NUMBER_SETUP":
                await pilot.snap("cancelado", docs=True)
            button = "Tentar novamente"
        assert pilot.console_errors() == []

    async def test_popup_closed_without_a_code_is_a_cancel_at_login(self, pilot: Pilot) -> None:
        await pilot.goto(FAST)
        await pilot.connect("close_no_code")
        await expect_cancelled(pilot, "login")

    async def test_blocked_popup_offers_the_full_page_flow(self, pilot: Pilot) -> None:
        await pilot.page.add_init_script("window.open = () => null;")  # what a popup blocker leaves
        await pilot.goto(FAST)
        await pilot.connect("finish")
        await expect_cancelled(pilot, "login")

        await pilot.button("Abrir em página inteira").click()  # Meta's dialog in this tab, then back here
        # Meta's redirect carries no session event: the WABA's several numbers are offered (ARCHITECTURE §14).
        await pilot.expect_panel("choice", wait_ms=15_000)
        assert "code=" not in pilot.page.url and "state=" not in pilot.page.url
        assert "result=" not in pilot.page.url  # said once; a reload shows the status alone
        await pilot.page.get_by_role("radio").last.check()
        await pilot.button("Continuar").click()
        await pilot.expect_connected()
        status = await pilot.status()
        assert status["status"] == "active"
        exchange = pilot.live.sandbox.requests("oauth_access_token")
        assert (
            exchange[0].query.get("redirect_uri")
            == pilot.live.url + "/api/v1/whatsapp/embedded-signup/callback"
        )
        assert len(await pilot.events("Embedded Signup Completed")) == 1


class TestFailed:
    async def test_error_reported_in_the_popup(self, pilot: Pilot) -> None:
        await pilot.goto()
        await pilot.connect("error", "message_first")
        await pilot.expect_panel("failed")
        expected = meta_error(USER_ERROR_MESSAGE.rstrip("."))
        await expect(pilot.alert()).to_have_text(expected)
        assert await pilot.events(FAILED_EVENT) == [
            {"error_code": USER_ERROR_CODE, "error_message": USER_ERROR_MESSAGE, "step_failed": "login"}
        ]
        status = await pilot.status()
        assert status["status"] == "not_connected" and status["error"]["message"] == USER_ERROR_MESSAGE
        await pilot.page.reload()  # the server renders the same words the script showed
        await expect(pilot.alert()).to_have_text(expected)

    async def test_meta_permanent_error_on_the_exchange(self, pilot: Pilot) -> None:
        pilot.live.sandbox.fail_next("oauth_access_token", code=100, message="(#100) Invalid parameter")
        await pilot.goto()
        await pilot.connect("finish", "callback_first")
        await pilot.expect_panel("failed")
        await expect(pilot.alert()).to_have_text(meta_error("(#100) Invalid parameter"))
        hint = pilot.page.locator('[data-field="error-hint"]')
        await expect(hint).to_have_text(
            "A Meta recusou um dos dados enviados. Se continuar, fale com o suporte da Qualifica Leads."
        )
        await pilot.snap("falha-meta", docs=True)
        status = await pilot.status()
        assert status["error"]["code"] == "meta_error" and status["connection"] is None
        assert await pilot.events(FAILED_EVENT) == [
            {
                "error_code": "100",
                "error_message": meta_error("(#100) Invalid parameter"),
                "step_failed": "token_exchange",
            }
        ]
        await pilot.page.reload()
        await expect(pilot.alert()).to_have_text(meta_error("(#100) Invalid parameter"))
        await expect(hint).to_be_visible()

    async def test_expired_code_asks_to_reconnect_and_reconnect_works(self, pilot: Pilot) -> None:
        pilot.live.sandbox.fail_next(
            "oauth_access_token",
            code=100,
            subcode=36007,
            message="This authorization code has expired.",
        )
        await pilot.goto()
        await pilot.connect("finish", "message_first")
        await pilot.expect_panel("expired")
        await expect(pilot.alert()).to_have_text(EXPIRED)
        await pilot.snap("sessao-expirada", docs=True)
        status = await pilot.status()
        assert status["error"]["code"] == "session_expired"
        assert (await pilot.events(FAILED_EVENT))[0] == {
            "error_code": "100",
            "error_message": EXPIRED,
            "step_failed": "token_exchange",
        }

        await pilot.button("Reconectar").click()
        await pilot.expect_connected()
        assert (await pilot.status())["status"] == "active"
        assert len(await pilot.events("Embedded Signup Started")) == 2
