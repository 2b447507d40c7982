"""The page states of today's Meta (ARCHITECTURE §14) in Chromium: choosing the account or the number,
verifying the number by SMS code, adding a number, and a Meta rate limit being waited out."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.pilot import SETTINGS_PATH, Pilot

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

FAST = SETTINGS_PATH + "?watchdog_ms=600"  # the popup posts no session event: wait for it briefly
CHOOSE_WABA = "Qual conta do WhatsApp Business você quer conectar?"
CHOOSE_NUMBER = "Qual número você quer conectar?"
RATE_LIMITED = (
    "A Meta está limitando as requisições agora. Vamos continuar automaticamente em alguns minutos."
)


async def verify_by_sms(pilot: Pilot, *, snap: str | None = None) -> None:
    """On the verification panel: ask for the SMS, type a wrong code, then the one the phone got."""
    await pilot.expect_panel("verification")
    await expect(pilot.heading("Confirme o número do WhatsApp")).to_be_visible()
    await pilot.button("Enviar código por SMS").click()
    await expect(pilot.text("Enviamos o código por SMS.")).to_be_visible()
    await expect(pilot.live_region).to_contain_text("Enviamos o código por SMS.")  # said aloud too
    phone_id = (await pilot.status())["phone_number"]["id"]
    code = pilot.live.sandbox.verification_code(phone_id)
    assert code is not None
    field = pilot.page.get_by_label("Código de verificação")
    await field.fill("000000" if code != "000000" else "111111")
    await pilot.button("Confirmar código").click()
    await expect(pilot.alert()).to_contain_text("O código está errado ou expirou.")
    if snap:
        await pilot.snap(snap, docs=True)
    await field.fill(code)
    await pilot.button("Confirmar código").click()
    await pilot.expect_connected()
    request = pilot.live.sandbox.requests("request_code")[0]
    assert request.body == {"code_method": "SMS", "language": "pt_BR"}


class TestChoice:
    async def test_two_accounts_without_the_session_event_ask_which_one(self, pilot: Pilot) -> None:
        await pilot.goto(FAST)
        await pilot.connect("finish_two_wabas_no_event", "callback_first")
        await pilot.expect_panel("choice", wait_ms=15_000)
        await expect(pilot.heading(CHOOSE_WABA)).to_be_visible()
        await expect(pilot.page.get_by_role("radio")).to_have_count(2)
        await pilot.snap("escolha-conta", docs=True)
        await pilot.page.get_by_text("Prisma Vendas").click()
        await pilot.button("Continuar").click()
        await pilot.expect_connected()
        assert (await pilot.status())["connection"]["verified_name"] == "Prisma Vendas"
        assert pilot.console_errors() == []

    async def test_two_numbers_without_a_number_id_ask_which_one(self, pilot: Pilot) -> None:
        await pilot.goto()
        await pilot.connect("finish_two_numbers_no_phone_id")
        await pilot.expect_panel("choice", wait_ms=15_000)
        await expect(pilot.heading(CHOOSE_NUMBER)).to_be_visible()
        await pilot.snap("escolha-numero", docs=True)
        await pilot.page.get_by_text("+55 48 99111-2000").click()
        await pilot.button("Continuar").click()
        await pilot.expect_connected()
        assert (await pilot.status())["connection"]["verified_name"] == "Costa Azul Plantão"

    async def test_a_page_opened_while_the_choice_waits_shows_it(self, pilot: Pilot) -> None:
        await pilot.goto()
        await pilot.connect("finish_two_numbers_no_phone_id")
        await pilot.expect_panel("choice", wait_ms=15_000)
        await pilot.goto()  # a reload: the choices come from the status endpoint
        await pilot.expect_panel("choice")
        await expect(pilot.page.get_by_role("radio")).to_have_count(2)


class TestNumber:
    async def test_an_unverified_number_is_verified_by_sms_then_connected(self, pilot: Pilot) -> None:
        await pilot.goto()
        await pilot.connect("finish_unverified_number")
        await verify_by_sms(pilot, snap="verificacao")
        assert len(pilot.live.sandbox.requests("register")) == 1

    async def test_no_number_add_one_then_verify_then_connected(self, pilot: Pilot) -> None:
        await pilot.goto()
        await pilot.connect("finish_no_number")
        await pilot.expect_panel("number", wait_ms=15_000)
        await expect(pilot.heading("Adicione o número do WhatsApp")).to_be_visible()
        await pilot.page.get_by_label("Número com DDD").fill("11 97777-0000")  # in use elsewhere
        await pilot.page.get_by_label("Nome de exibição").fill("Lima & Filhos")
        await pilot.snap("numero", docs=True)
        await pilot.button("Adicionar número").click()
        await expect(pilot.alert()).to_contain_text("já está em uso")
        await pilot.page.get_by_label("Número com DDD").fill("11 96666-1234")
        await pilot.button("Adicionar número").click()
        await verify_by_sms(pilot)
        assert (await pilot.status())["connection"]["verified_name"] == "Lima & Filhos"


class TestRateLimit:
    async def test_a_meta_rate_limit_is_waited_out_with_its_own_words(self, pilot: Pilot) -> None:
        usage = {"type": "whatsapp_business_management", "call_count": 100, "total_cputime": 1,
                 "total_time": 1, "estimated_time_to_regain_access": 5}  # fmt: skip
        pilot.live.sandbox.fail_next("waba", code=80007)
        pilot.live.sandbox.set_usage(business={"600000000000006": [usage]})
        await pilot.goto()
        await pilot.connect("finish")
        await pilot.expect_panel("connecting")
        await expect(pilot.text(RATE_LIMITED)).to_be_visible(timeout=15_000)
        await pilot.snap("limite-meta", docs=True)
        status = await pilot.status()
        assert (status["status"], status["step"]) == ("connecting", "rate_limited")
        assert len(pilot.live.sandbox.requests("waba")) == 1
