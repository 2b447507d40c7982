"""The connection flow by keyboard alone, and on a 320 px-wide phone; axe checks every state on the way.

Keyboard: Tab, Enter and Escape only. After each change of state the focus is on the new panel's heading
(never back on <body>), and the page's one live region says the outcome. Phone: at 320 px nothing scrolls
sideways, the header wraps and Sair stays on screen. Both runs give the manual its screenshots (SQLite runs).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from tests.e2e.pilot import CANCELLED, Live, Pilot
from tests.support.axe import assert_accessible

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

MANUAL_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "manual" / "images"
PHONE = {"width": 320, "height": 640}
FOCUSED_NAME = """() => {
  const element = document.activeElement;
  if (!element || element === document.body) return "";
  return (element.getAttribute("aria-label") || element.innerText || element.value || "").trim();
}"""


async def tab_to(page: Page, name: str, limit: int = 40) -> None:
    """Tab (forwards only) until the focus is on the control called ``name``."""
    seen = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED_NAME)
        if focused == name:
            return
        seen.append(focused)
    raise AssertionError(f"{name!r} not reached by Tab: {seen}")


async def heading_has_focus(pilot: Pilot, name: str) -> None:
    await expect(pilot.heading(name)).to_be_focused()


async def manual_shot(pilot: Pilot, name: str) -> None:
    """A picture for docs/manual (SQLite runs only; the other database draws the same page)."""
    if pilot.live.on_sqlite:
        await pilot.page.mouse.move(0, 0)
        MANUAL_IMAGES.mkdir(parents=True, exist_ok=True)
        await pilot.page.screenshot(
            path=str(MANUAL_IMAGES / f"{name}.png"), full_page=True, animations="disabled"
        )


async def fits_the_width(page: Page) -> None:
    """No sideways scroll, and Sair (the header's last control) entirely on screen."""
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    viewport = await page.evaluate("() => window.innerWidth")
    assert width <= viewport, f"the page is {width} px wide in a {viewport} px window"
    sair = page.get_by_role("button", name="Sair")
    await expect(sair).to_be_visible()
    box = await sair.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport


class TestKeyboardOnly:
    async def test_the_whole_flow_with_tab_enter_and_escape(self, pilot: Pilot) -> None:
        page = pilot.page
        await pilot.goto()
        await pilot.expect_panel("idle")

        # Conectar WhatsApp → the instructions; Escape goes back; so does Voltar. Focus follows each time.
        await tab_to(page, "Conectar WhatsApp")
        await page.keyboard.press("Enter")
        await pilot.expect_panel("instructions")
        await heading_has_focus(pilot, "Antes de começar")
        await page.keyboard.press("Escape")
        await pilot.expect_panel("idle")
        await heading_has_focus(pilot, "Não conectado")
        await tab_to(page, "Conectar WhatsApp")
        await page.keyboard.press("Enter")
        await heading_has_focus(pilot, "Antes de começar")
        await tab_to(page, "Voltar")
        await page.keyboard.press("Enter")
        await heading_has_focus(pilot, "Não conectado")

        # Cancelled in Meta's window: the cancelled panel has the focus, the live region says why.
        await tab_to(page, "Conectar WhatsApp")
        await page.keyboard.press("Enter")
        pilot.live.sandbox.set_auto("cancel:PHONE_NUMBER_SETUP", "callback_first")
        await tab_to(page, "Iniciar conexão")
        await page.keyboard.press("Enter")
        await pilot.expect_panel("cancelled")
        await heading_has_focus(pilot, "Conexão cancelada")
        await expect(pilot.live_region).to_have_text(CANCELLED)

        # Tentar novamente → connecting → connected, announced.
        pilot.live.sandbox.set_auto("finish", "message_first")
        await tab_to(page, "Tentar novamente")
        await page.keyboard.press("Enter")
        await pilot.expect_connected()
        await heading_has_focus(pilot, "WhatsApp conectado")
        await expect(pilot.live_region).to_contain_text("WhatsApp conectado")
        number = (await pilot.status())["connection"]["display_phone_number"]
        await expect(pilot.live_region).to_contain_text(number)

        # Desconectar: Escape closes the dialog and gives the focus back; then confirm by keyboard.
        await tab_to(page, "Desconectar")
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Desconectar o WhatsApp?")
        await expect(dialog).to_be_visible()
        await assert_accessible(page, "disconnect dialog")
        await page.keyboard.press("Escape")
        await expect(dialog).to_be_hidden()
        await expect(pilot.button("Desconectar")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(dialog).to_be_visible()
        await tab_to(page, "Desconectar")  # the dialog's own button (focus stays inside the modal dialog)
        await page.keyboard.press("Enter")
        await pilot.expect_panel("idle")
        await heading_has_focus(pilot, "Não conectado")
        await expect(pilot.live_region).to_have_text("O WhatsApp foi desconectado.")
        assert (await pilot.status())["status"] == "disconnected"
        assert pilot.console_errors() == []


class TestPhone:
    async def test_the_happy_path_at_320_px(
        self, browser: Browser, live: Live, db: AsyncSession, admin: User, request: pytest.FixtureRequest
    ) -> None:
        phone = await Pilot.open(browser, live, db, admin, test_name=request.node.name, viewport=PHONE)
        try:
            page = phone.page
            await page.goto("/")
            await page.get_by_role("heading", name="Bem-vindo à Qualifica Leads").wait_for()
            await assert_accessible(page, "home at 320 px")
            await fits_the_width(page)
            await manual_shot(phone, "celular-inicio")

            await phone.goto()
            await phone.expect_panel("idle")
            await fits_the_width(page)
            await manual_shot(phone, "celular-nao-conectado")
            await phone.open_instructions()
            await phone.expect_panel("instructions")
            await fits_the_width(page)
            await expect(phone.button("Abrir em página inteira")).to_be_visible()  # when no popup can open
            await manual_shot(phone, "celular-instrucoes")

            phone.live.sandbox.set_auto("finish", "message_first")
            await phone.button("Iniciar conexão").click()
            await phone.expect_connected()
            await fits_the_width(page)
            await manual_shot(phone, "celular-conectado")
            assert phone.console_errors() == []
        finally:
            await phone.close()

    async def test_the_same_pages_at_desktop_width_for_the_manual(self, pilot: Pilot) -> None:
        await pilot.goto()
        await pilot.expect_panel("idle")
        await fits_the_width(pilot.page)
        await pilot.open_instructions()
        await manual_shot(pilot, "computador-instrucoes")
        pilot.live.sandbox.set_auto("finish", "message_first")
        await pilot.button("Iniciar conexão").click()
        await pilot.expect_connected()
        await fits_the_width(pilot.page)
        await manual_shot(pilot, "computador-conectado")
