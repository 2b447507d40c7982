"""The admin connects WhatsApp from /settings/whatsapp through the sandbox's Embedded Signup popup."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from qualifica.meta.sandbox.scenario import Order
from tests.e2e.pilot import REQUIREMENTS, Pilot

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

VIEWED = "WhatsApp Setup Screen Viewed"
STARTED = "Embedded Signup Started"
COMPLETED = "Embedded Signup Completed"


async def assert_card_shows(pilot: Pilot, connection: dict[str, Any]) -> None:
    card = pilot.page.locator('section[data-panel="active"]')
    await expect(card.locator('[data-field="display_phone_number"]')).to_have_text(
        connection["display_phone_number"]
    )
    await expect(card.locator('[data-field="business_name"]')).to_have_text(connection["business_name"])
    await expect(card.locator('[data-field="waba_id"]')).to_have_text(connection["waba_id"])
    await expect(pilot.button("Desconectar")).to_be_visible()


def completed(waba_id: str, *, existing: bool) -> dict[str, Any]:
    return {
        "waba_id": waba_id,
        "has_existing_number": existing,
        "time_to_complete_seconds": pytest.approx(2, abs=30),
    }


class TestPopupSignup:
    @pytest.mark.parametrize("order", ["message_first", "callback_first"])
    async def test_happy_path_shows_the_green_card(self, pilot: Pilot, order: Order) -> None:
        await pilot.goto()
        await pilot.expect_panel("idle")
        await expect(pilot.heading("Não conectado")).to_be_visible()
        await pilot.snap("nao-conectado", docs=order == "message_first")
        await pilot.open_instructions()
        for requirement in REQUIREMENTS:
            await expect(pilot.page.get_by_text(requirement, exact=True)).to_be_visible()
        await expect(pilot.button("Iniciar conexão")).to_be_visible()
        await pilot.snap("instrucoes", docs=order == "message_first")

        pilot.live.sandbox.set_auto("finish", order)
        await pilot.button("Iniciar conexão").click()
        await pilot.expect_connected()
        await pilot.snap("conectado", docs=order == "message_first")

        status = await pilot.status()
        assert status["status"] == "active" and status["error"] is None
        connection = status["connection"]
        assert connection["business_name"] == "Imobiliária Horizonte Ltda"
        await assert_card_shows(pilot, connection)
        assert await pilot.events(VIEWED) == [{}]
        assert await pilot.events(STARTED) == [{}]
        assert await pilot.events(COMPLETED) == [completed(connection["waba_id"], existing=False)]

        # The code went to our server and to Meta's exchange only: not into the page, its URL or console.
        exchange = pilot.live.sandbox.requests("oauth_access_token")
        assert len(exchange) == 1
        code = exchange[0].query["code"]
        assert code not in await pilot.page.content()
        assert code not in pilot.page.url
        assert all(code not in line for line in pilot.console)
        assert pilot.console_errors() == []
        assert await pilot.message_listeners() == 0  # ours and the SDK's are gone once settled

    async def test_finish_only_waba_asks_which_of_the_waba_numbers(self, pilot: Pilot) -> None:
        await pilot.goto()
        await pilot.connect("finish_only_waba", "callback_first")
        await pilot.expect_panel("choice", wait_ms=15_000)  # the WABA has two numbers (ARCHITECTURE §14)
        await pilot.page.get_by_role("radio").first.check()
        await pilot.button("Continuar").click()
        await pilot.expect_connected()
        status = await pilot.status()
        connection = status["connection"]
        await assert_card_shows(pilot, connection)
        assert (await pilot.events(COMPLETED))[0]["waba_id"] == connection["waba_id"]
        assert pilot.console_errors() == []

    async def test_coexistence_keeps_the_business_app_number(self, pilot: Pilot) -> None:
        await pilot.goto()
        await pilot.connect("coexistence", "message_first")
        await pilot.expect_connected()
        connection = (await pilot.status())["connection"]
        await assert_card_shows(pilot, connection)
        assert connection["has_existing_number"] is True
        assert await pilot.events(COMPLETED) == [completed(connection["waba_id"], existing=True)]
        assert not pilot.live.sandbox.requests("register")  # a WhatsApp Business app number stays as it is


class TestSlowAndPin:
    @pytest.mark.parametrize("live_overrides", [{"callback_deadline_seconds": 0.2}])
    async def test_slow_registration_answers_202_and_the_page_polls(self, pilot: Pilot) -> None:
        pilot.live.sandbox.set_latency("register", 2.5)
        await pilot.goto()
        await pilot.connect("finish", "message_first")
        await pilot.expect_panel("connecting")
        step = pilot.page.locator('[data-field="step"]')
        await expect(step).to_have_text("Registrando o número na API oficial do WhatsApp…", timeout=5_000)
        assert (await pilot.status())["status"] == "connecting"
        await pilot.snap("conectando", docs=True)
        await pilot.expect_connected()
        connection = (await pilot.status())["connection"]
        await assert_card_shows(pilot, connection)
        assert len(await pilot.events(COMPLETED)) == 1

    async def test_existing_two_step_pin_is_asked_for(self, pilot: Pilot) -> None:
        sandbox = pilot.live.sandbox
        waba = next(iter(sandbox.world.wabas.values()))
        phone = sandbox.existing_phones(waba.id)[0]
        sandbox.set_phone_pin(phone.id, "123456")
        await pilot.goto()
        await pilot.connect("finish_existing_number", "callback_first")
        await pilot.expect_panel("pin")
        await expect(pilot.heading("Informe o PIN do número")).to_be_visible()
        assert (await pilot.status())["status"] == "pin_required"
        await pilot.snap("pin", docs=True)

        pin = pilot.page.get_by_label("PIN de confirmação em duas etapas")
        await pin.fill("111111")
        await pilot.button("Confirmar PIN").click()
        await expect(pilot.alert()).to_have_text(
            "O PIN informado não confere com o PIN de confirmação em duas etapas do número."
        )
        assert (await pilot.status())["status"] == "pin_required"
        await pin.fill("123456")
        await pilot.button("Confirmar PIN").click()
        await pilot.expect_connected()
        connection = (await pilot.status())["connection"]
        assert connection["phone_number_id"] == phone.id and connection["has_existing_number"] is True
        assert "123456" not in await pilot.page.content()
        assert all("123456" not in line for line in pilot.console)


class TestHomeChecklist:
    async def test_checklist_item_flips_to_done(self, pilot: Pilot) -> None:
        await pilot.page.goto("/")
        checklist = pilot.page.get_by_role("list", name="Configuração inicial")
        await expect(checklist).to_contain_text("Pendente")
        await pilot.page.get_by_role("link", name="Conectar WhatsApp").click()
        await pilot.heading("Conexão WhatsApp").wait_for()
        await pilot.connect("finish", "random")
        await pilot.expect_connected()
        number = (await pilot.status())["connection"]["display_phone_number"]
        await pilot.page.get_by_role("link", name="Início").click()
        await expect(checklist).to_contain_text("Concluído")
        await expect(checklist).to_contain_text(number)
        await pilot.snap("inicio-concluido", docs=True)
