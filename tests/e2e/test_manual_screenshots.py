"""A person walks Meta's popup (the sandbox's) from the settings page; each screen becomes a manual image."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.pilot import Pilot
from tests.support.axe import assert_accessible

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

MANUAL_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "manual" / "images"
POPUP_VIEWPORT = {"width": 600, "height": 760}


async def shot(popup: Page, name: str) -> None:
    await assert_accessible(popup, name)  # the sandbox's popup is what people see in the demo
    MANUAL_IMAGES.mkdir(parents=True, exist_ok=True)
    await popup.screenshot(path=str(MANUAL_IMAGES / f"{name}.png"), animations="disabled")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # images only; both DBs run elsewhere
async def test_the_manual_walks_every_popup_screen_by_hand(pilot: Pilot) -> None:
    pilot.live.sandbox.set_auto(None)  # a person clicks; nothing runs by itself
    await pilot.goto()
    await pilot.open_instructions()
    async with pilot.page.expect_popup() as opened:
        await pilot.button("Iniciar conexão").click()
    popup = await opened.value
    await popup.set_viewport_size(POPUP_VIEWPORT)  # type: ignore[arg-type]

    await expect(popup.get_by_role("button", name="Continuar como Ana")).to_be_visible()
    await shot(popup, "meta-1-entrar")
    await popup.get_by_role("button", name="Continuar como Ana").click()
    await popup.get_by_role("heading", name="Selecione seu portfólio empresarial").wait_for()
    await shot(popup, "meta-2-portfolio")
    await popup.get_by_role("button", name="Continuar").click()
    await popup.get_by_role("heading", name="Escolha uma conta do WhatsApp Business").wait_for()
    await shot(popup, "meta-3-conta")
    await popup.get_by_role("button", name="Continuar").click()
    await popup.get_by_text("Adicionar um novo número").click()
    await popup.get_by_label("Nome de exibição").fill("Horizonte Imóveis Centro")
    await shot(popup, "meta-4-numero")
    await popup.get_by_role("button", name="Continuar").click()
    await popup.get_by_label("Código de verificação").fill("123456")
    await shot(popup, "meta-5-verificacao")
    await popup.get_by_role("button", name="Verificar").click()
    await expect(popup.get_by_role("button", name="Permitir")).to_be_visible()
    await shot(popup, "meta-6-permissoes")
    await popup.get_by_role("button", name="Permitir").click()
    await popup.get_by_role("heading", name="Tudo pronto!").wait_for()
    await shot(popup, "meta-7-pronto")
    async with popup.expect_event("close"):
        await popup.get_by_role("button", name="Concluir").click()

    await pilot.expect_connected()
    status = await pilot.status()
    assert status["status"] == "active"
    assert status["connection"]["verified_name"] == "Horizonte Imóveis Centro"
    assert status["connection"]["has_existing_number"] is False
