"""§15 "Testar conexão": the admin sends the test message from the connected card and watches its status.

The sandbox accepts the message over a real socket and the page polls the message. The first test goes the
whole way: the sandbox's signed ``statuses`` webhooks reach the app, the worker's handler records them, the
page shows Enviada → Entregue → Lida. The others turn the sandbox's statuses off and apply each status with
``record_status`` (what the handler calls), to hold the page at each step.
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from qualifica.assistant.outbound import record_status
from qualifica.db import utcnow
from tests.e2e.pilot import Live, Pilot

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

LEAD = "5511987650001"


async def connected(pilot: Pilot, live: Live) -> str:
    await pilot.goto()
    await pilot.connect("finish", "random")
    await pilot.expect_connected()
    live.sandbox.set_message_statuses([])
    status = await pilot.status()
    phone_number_id: str = status["connection"]["phone_number_id"]
    return phone_number_id


async def apply(pilot: Pilot, wamid: str, status: str, error: dict[str, object] | None = None) -> None:
    await record_status(
        pilot.db, organization_id=pilot.organization_id, wamid=wamid, status=status, at=utcnow(), error=error
    )
    await pilot.db.commit()


class TestTheTestMessage:
    async def test_meta_s_status_webhooks_take_the_card_to_lida(self, pilot: Pilot, live: Live) -> None:
        await connected(pilot, live)
        live.sandbox.set_message_statuses(["sent", "delivered", "read"], delay=0.5)
        card = pilot.page.locator("[data-role=test-message]")
        await card.get_by_label("Número que vai receber o teste").fill("+55 11 98765-0001")
        await card.get_by_role("button", name="Enviar mensagem de teste").click()
        steps = card.get_by_role("list", name="Situação da mensagem de teste")
        await expect(steps.locator(".reached")).to_have_text(["Enviada", "Entregue", "Lida"], timeout=20_000)
        await expect(card.get_by_role("status")).to_have_text("Lida. A conexão está funcionando.")

    async def test_the_admin_sends_hello_world_and_sees_it_delivered_then_read(
        self, pilot: Pilot, live: Live
    ) -> None:
        phone_number_id = await connected(pilot, live)
        card = pilot.page.locator("[data-role=test-message]")
        await expect(card.get_by_role("heading", name="Testar conexão")).to_be_visible()

        await card.get_by_label("Número que vai receber o teste").fill("+55 11 98765-0001")
        await card.get_by_role("button", name="Enviar mensagem de teste").click()
        status = card.get_by_role("status")
        await expect(status).to_have_text("Enviada. Aguardando a entrega no celular…")
        steps = card.get_by_role("list", name="Situação da mensagem de teste")
        await expect(steps.locator(".reached")).to_have_text(["Enviada"])

        (sent,) = live.sandbox.conversation(phone_number_id, LEAD).sent
        assert sent["type"] == "template" and sent["template"] == {"name": "hello_world", "language": "en_US"}
        await apply(pilot, sent["id"], "delivered")
        await expect(status).to_have_text("Entregue no celular. Abra o WhatsApp para ler.")
        await expect(steps.locator(".reached")).to_have_text(["Enviada", "Entregue"])
        await apply(pilot, sent["id"], "read")
        await expect(status).to_have_text("Lida. A conexão está funcionando.")
        await expect(steps.locator(".reached")).to_have_text(["Enviada", "Entregue", "Lida"])
        await pilot.snap("teste-lida", docs=True)
        assert pilot.console_errors() == []

    async def test_an_undeliverable_number_says_what_to_do(self, pilot: Pilot, live: Live) -> None:
        await connected(pilot, live)
        card = pilot.page.locator("[data-role=test-message]")
        live.sandbox.fail_next("messages", code=131026)
        await card.get_by_label("Número que vai receber o teste").fill("+55 11 90000-0000")
        await card.get_by_role("button", name="Enviar mensagem de teste").click()
        error = card.get_by_role("alert")
        await expect(error).to_contain_text("A mensagem de teste não foi entregue.")
        await expect(error).to_contain_text("Confira o número do contato.")
        await expect(card.get_by_role("list", name="Situação da mensagem de teste")).to_be_hidden()
        await pilot.snap("teste-erro", docs=True)

    async def test_a_failed_status_later_shows_meta_s_reason(self, pilot: Pilot, live: Live) -> None:
        phone_number_id = await connected(pilot, live)
        card = pilot.page.locator("[data-role=test-message]")
        await card.get_by_label("Número que vai receber o teste").fill("5511987650001")
        await card.get_by_role("button", name="Enviar mensagem de teste").click()
        await expect(card.get_by_role("status")).to_have_text("Enviada. Aguardando a entrega no celular…")
        (sent,) = live.sandbox.conversation(phone_number_id, LEAD).sent
        await apply(pilot, sent["id"], "failed", {"code": 131026, "title": "Message undeliverable"})
        await expect(card.get_by_role("alert")).to_contain_text("ele não tem WhatsApp")

    async def test_a_number_that_is_not_one_is_explained(self, pilot: Pilot, live: Live) -> None:
        await connected(pilot, live)
        card = pilot.page.locator("[data-role=test-message]")
        await card.get_by_label("Número que vai receber o teste").fill("fale comigo")
        await card.get_by_role("button", name="Enviar mensagem de teste").click()
        await expect(card.get_by_role("alert")).to_contain_text(
            "Informe o número com o código do país e o DDD, por exemplo +55 11 98765-4321."
        )
        assert live.sandbox.requests("messages") == []
