from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page

from qualifica.accounts.models import User
from qualifica.config import Settings
from qualifica.meta.sandbox import Sandbox
from tests.support.axe import assert_accessible
from tests.support.browser import launch_chromium, log_in
from tests.support.live import live_server
from tests.support.signup import make_history

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "ops-page.png"


@pytest.fixture
def live_url(settings: Settings) -> Iterator[str]:
    with live_server(settings) as url:
        yield url


async def signed_in(browser: Browser, live_url: str, user: User) -> Page:
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await log_in(page, live_url, user)
    return page


async def test_staff_sees_the_funnel_and_switches_the_flag_an_admin_is_refused(
    live_url: str, client: httpx.AsyncClient, staff: User, admin_user: User, sandbox: Sandbox
) -> None:
    await make_history(client, admin_user, sandbox)
    async with launch_chromium() as browser:
        page = await signed_in(browser, live_url, staff)
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        await page.goto(live_url + "/ops")
        await page.get_by_role("heading", name="Operações · Conexão WhatsApp").wait_for()
        assert await page.locator("[data-kpi=success-24h]").inner_text() == "33,3 %"
        assert await page.get_by_role("img", name="Funil, 7 dias").count() == 1
        events = page.get_by_role("heading", name="Eventos de analytics recentes")
        assert await events.is_visible()
        await assert_accessible(page, "ops")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

        # Off for everyone asks first: the disclosure shows the warning and the button that confirms.
        confirm = page.get_by_role("button", name="Sim, desligar para todos")
        assert not await confirm.is_visible()
        await page.get_by_text("Desligar para todos", exact=True).click()
        await confirm.wait_for()
        await assert_accessible(page, "ops, confirming")
        await confirm.click()
        await page.get_by_role("status").filter(has_text="Liberação atualizada").wait_for()
        assert await page.locator("[data-flag=enabled-for]").inner_text() == "0 de 2"
        assert problems == []  # no CSP violation

        refused = await signed_in(browser, live_url, admin_user)
        response = await refused.goto(live_url + "/ops")
        assert response is not None and response.status == 403
        assert await refused.get_by_text("Você não tem permissão para fazer isso.").is_visible()
