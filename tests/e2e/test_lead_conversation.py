"""The proof on the page (§15), in Chromium: a person writes to the agency's number on the sandbox's
simulated phone; the connected card shows it as "Última mensagem recebida"; the assistant's free-text reply
(now inside the 24-hour window) reaches the phone."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.pilot import DOCS_IMAGES, Pilot
from tests.support.assistant import make_key

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


async def test_a_lead_writes_on_the_simulated_phone_and_the_assistant_answers(pilot: Pilot) -> None:
    await pilot.goto()
    await pilot.connect("finish", "random")
    await pilot.expect_connected()
    await pilot.page.reload()
    card = pilot.page.locator('section[data-panel="active"]')
    await expect(card.locator('[data-field="last_message"]')).to_have_text("Nenhuma mensagem recebida ainda")

    async with pilot.page.expect_popup() as opened:
        await pilot.page.get_by_test_id("lead-phone").click()
    phone = await opened.value
    await phone.get_by_label("Mensagem").fill("Olá! O apartamento da Mooca ainda está disponível?")
    await phone.get_by_label("Veio de um anúncio (clique para o WhatsApp)").check()
    await phone.get_by_role("button", name="Enviar").click()
    await expect(phone.get_by_test_id("chat")).to_contain_text("O apartamento da Mooca")

    last = card.locator('[data-field="last_message"]')
    for _ in range(100):  # the worker inside the server processes Meta's webhook
        await pilot.page.reload()
        if "Última mensagem recebida" in (await last.inner_text()):
            break
        await asyncio.sleep(0.1)
    said = "“Olá! O apartamento da Mooca ainda está disponível?” — de Lead de Demonstração"
    await expect(last).to_contain_text(f"Última mensagem recebida: {said}")
    if pilot.live.on_sqlite:
        await pilot.snap("ultima-mensagem", docs=True)

    # the assistant answers with free text: the lead wrote, so the window is open
    key = await make_key(pilot.db, organization_id=pilot.organization_id)
    async with httpx.AsyncClient(base_url=pilot.live.url) as assistant:
        answer = await assistant.post(
            "/api/v1/whatsapp/messages",
            json={
                "to": "5511987650001",
                "type": "text",
                "text": {"body": "Está sim! Quer agendar uma visita?"},
            },
            headers={"Authorization": f"Bearer {key}"},
        )
    assert answer.status_code == 200, answer.text
    await phone.reload()
    await expect(phone.get_by_test_id("chat")).to_contain_text("Está sim! Quer agendar uma visita?")
    if pilot.live.on_sqlite:
        await phone.screenshot(path=str(DOCS_IMAGES / "sandbox-lead.png"), animations="disabled")
    assert pilot.console_errors() == []
