from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Role, User
from qualifica.app import create_app
from qualifica.config import Settings
from tests.support.browser import SCREENSHOTS, launch_chromium
from tests.support.factories import PASSWORD, make_org, make_user
from tests.support.live import serve_in_thread

pytestmark = pytest.mark.e2e


@pytest.fixture
async def live_url(settings: Settings) -> AsyncIterator[str]:
    live = create_app(settings, configure_logs=False)
    with serve_in_thread(live) as url:
        yield url


@pytest.fixture
async def admin(db: AsyncSession) -> User:
    user = await make_user(db, await make_org(db, "Imobiliária Bela Vista"), role=Role.ADMIN)
    await db.commit()
    return user


async def test_admin_logs_in_through_the_form_and_sees_the_checklist(live_url: str, admin: User) -> None:
    async with launch_chromium() as browser:
        page = await browser.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        await page.goto(live_url + "/")
        await page.get_by_label("E-mail").fill(admin.email)
        await page.get_by_label("Senha").fill(PASSWORD)
        await page.get_by_role("button", name="Entrar").click()
        item = page.get_by_role("link", name="Conectar WhatsApp")
        await item.wait_for()
        assert await item.get_attribute("href") == "/settings/whatsapp"
        assert "Pendente" in await page.get_by_role("list", name="Configuração inicial").inner_text()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "home-checklist.png"), full_page=True)
        await item.click()
        await page.get_by_role("heading", name="Conexão WhatsApp").wait_for()
        assert errors == []  # no CSP violation or script error on the way
