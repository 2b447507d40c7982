from __future__ import annotations

import pytest
from playwright.async_api import Browser

from qualifica.accounts.models import User
from tests.e2e.pilot import VIEWPORT, Live
from tests.support.axe import assert_accessible
from tests.support.browser import SCREENSHOTS
from tests.support.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


async def test_admin_logs_in_through_the_form_and_sees_the_checklist(
    browser: Browser, live: Live, admin: User
) -> None:
    context = await browser.new_context(locale="pt-BR", viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await page.goto(live.url + "/")
    await assert_accessible(page, "login")
    await page.get_by_label("E-mail").fill(admin.email)
    await page.get_by_label("Senha").fill(PASSWORD)
    await page.get_by_role("button", name="Entrar").click()
    item = page.get_by_role("link", name="Conectar WhatsApp")
    await item.wait_for()
    await assert_accessible(page, "home")
    assert await item.get_attribute("href") == "/settings/whatsapp"
    assert "Pendente" in await page.get_by_role("list", name="Configuração inicial").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "home-checklist.png"), full_page=True)
    await item.click()
    await page.get_by_role("heading", name="Conexão WhatsApp").wait_for()
    assert errors == []  # no CSP violation or script error on the way
    await context.close()
