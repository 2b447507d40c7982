"""People are told (§16), in Chromium: the banner on every page while the connection is in error, gone after
reconnecting; the mails as the admins see them, in the demo's local outbox."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.db import utcnow
from qualifica.whatsapp.mail.models import MailKind
from qualifica.whatsapp.mail.render import render_mail
from tests.e2e.pilot import Live, Pilot
from tests.support.axe import assert_accessible

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

MANUAL_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "manual" / "images"
OPEN_SETTINGS = "Abrir as configurações do WhatsApp"
AGAIN = "O WhatsApp da Imobiliária Horizonte está conectado de novo"
BANNER = "O WhatsApp está desconectado. Reconecte para continuar recebendo leads."


async def connection_status(pilot: Pilot, wanted: str, seconds: float = 15) -> None:
    """Wait until the worker inside the live server has processed Meta's webhook."""
    for _ in range(int(seconds * 10)):
        if (await pilot.status())["status"] == wanted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the connection never became {wanted}: {await pilot.status()}")


class TestBanner:
    async def test_every_page_shows_the_banner_while_in_error_and_none_after_reconnecting(
        self, pilot: Pilot, browser: Browser, live: Live, db: AsyncSession, member: User
    ) -> None:
        banner = pilot.page.get_by_test_id("whatsapp-banner")
        await pilot.goto()
        await pilot.connect("finish", "random")
        await pilot.expect_connected()
        await expect(banner).to_have_count(0)

        # The customer removes our app in Meta's settings (the demo's stand-in for WhatsApp Manager): Meta
        # sends PARTNER_APP_UNINSTALLED, the worker inside the server takes the connection into error.
        await pilot.page.goto("/_sandbox/meta/manager")
        await pilot.page.get_by_role("button", name="Remover o app Qualifica Leads").click()
        await expect(pilot.page.get_by_role("status")).to_contain_text("App removido")
        await assert_accessible(pilot.page, "sandbox manager")
        await connection_status(pilot, "error")

        await pilot.page.goto("/")
        await expect(banner).to_have_text(f"{BANNER} Reconectar")
        reconnect = banner.get_by_role("link", name="Reconectar")
        await expect(reconnect).to_have_attribute("href", "/settings/whatsapp")
        await pilot.snap("aviso-desconectado", docs=True)
        await reconnect.click()
        await pilot.heading("Conexão WhatsApp").wait_for()
        await expect(banner).to_contain_text(BANNER)
        await pilot.expect_panel("failed")

        colleague = await Pilot.open(browser, live, db, member, test_name=pilot.test_name + "-member")
        try:
            await colleague.page.goto("/")
            member_banner = colleague.page.get_by_test_id("whatsapp-banner")
            await expect(member_banner).to_have_text(BANNER)  # the member is told, without the button
            await expect(member_banner.get_by_role("link")).to_have_count(0)
        finally:
            await colleague.close()

        live.sandbox.set_auto("finish", "random")
        await (
            pilot.page.locator('section[data-panel="failed"]')
            .get_by_role("button", name="Tentar novamente")
            .click()
        )
        await pilot.expect_connected()
        await expect(banner).to_have_count(0)  # the page's own script is told; a reload shows none either
        await pilot.page.goto("/")
        await expect(pilot.page.get_by_role("heading", level=1)).to_be_visible()
        await expect(banner).to_have_count(0)

        # Both changes reached the admin's mailbox: the demo's local outbox lists them, newest first.
        await pilot.page.goto("/_sandbox/mail")
        rows = pilot.page.get_by_test_id("mail-row")
        await expect(rows).to_have_count(2, timeout=10_000)
        await expect(rows.nth(0)).to_contain_text(
            "O WhatsApp da Imobiliária Horizonte está conectado de novo"
        )
        await expect(rows.nth(1)).to_contain_text(
            "Ação necessária: o WhatsApp da Imobiliária Horizonte está desconectado"
        )
        for _ in range(100):  # the worker inside the server sends them within a round or two
            if await pilot.page.get_by_role("cell", name="Enviado", exact=True).count() == 2:
                break
            await asyncio.sleep(0.1)
            await pilot.page.reload()
        await expect(pilot.page.get_by_role("cell", name="Enviado", exact=True)).to_have_count(2)
        await pilot.snap("caixa-de-saida-de-emails", docs=True)
        await rows.nth(1).get_by_role("link").click()
        frame = pilot.page.frame_locator("iframe.mail-html")
        await expect(frame.get_by_role("link", name=OPEN_SETTINGS)).to_be_visible()
        await assert_accessible(pilot.page, "mail")
        assert pilot.console_errors() == []
        # The mail's own HTML, as a mail client shows it: readable in light and in dark mode.
        await pilot.page.goto(pilot.page.url + "/html")
        for scheme in ("light", "dark"):
            await pilot.page.emulate_media(color_scheme=scheme)
            await assert_accessible(pilot.page, f"mail html, {scheme}")
        background = "() => getComputedStyle(document.body).backgroundColor"
        assert await pilot.page.evaluate(background) == "rgb(22, 27, 34)"  # the dark colours applied


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # images only
async def test_each_mail_rendered_for_the_manual(pilot: Pilot) -> None:
    MANUAL_IMAGES.mkdir(parents=True, exist_ok=True)
    now = utcnow()
    for kind, name in (
        (MailKind.DISCONNECTED, "email-desconectado"),
        (MailKind.EXPIRING, "email-expirando"),
        (MailKind.RECONNECTED, "email-conectado-de-novo"),
    ):
        mail = render_mail(
            kind,
            organization="Imobiliária Horizonte",
            base_url=pilot.live.url,
            expires_at=now + timedelta(days=5),
            now=now,
        )
        await pilot.page.set_viewport_size({"width": 720, "height": 560})
        await pilot.page.set_content(mail.html)
        await expect(
            pilot.page.get_by_role("link", name="Abrir as configurações do WhatsApp")
        ).to_be_visible()
        await pilot.page.screenshot(path=str(MANUAL_IMAGES / f"{name}.png"), full_page=True)
