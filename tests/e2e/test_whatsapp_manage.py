"""Living with a connection: disconnecting and reconnecting, what members see, the flag turned off."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.flags import WHATSAPP_EMBEDDED_SIGNUP, FeatureFlag, invalidate_cache
from tests.e2e.pilot import Live, Pilot

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

UNAVAILABLE = (
    "A conexão com o WhatsApp está sendo liberada aos poucos e ainda não está disponível para a sua "
    "imobiliária. Fale com o seu gerente de conta."
)
MEMBER_NOTE = (
    "Somente administradores podem conectar ou desconectar o WhatsApp. "
    "Fale com um administrador da sua imobiliária."
)


async def csrf_post(pilot: Pilot, path: str) -> tuple[int, dict[str, object]]:
    cookies = {cookie["name"]: cookie["value"] for cookie in await pilot.context.cookies()}
    answer = await pilot.context.request.post(
        "/api/v1/whatsapp" + path, data={}, headers={"X-CSRF-Token": cookies["qualifica_csrf"]}
    )
    return answer.status, await answer.json()


class TestDisconnect:
    async def test_disconnect_asks_first_then_reconnect_works(self, pilot: Pilot) -> None:
        await pilot.goto()
        await pilot.connect("finish", "random")
        await pilot.expect_connected()

        await pilot.button("Desconectar").click()
        dialog = pilot.page.get_by_role("dialog", name="Desconectar o WhatsApp?")
        await expect(dialog).to_be_visible()
        await expect(dialog).to_contain_text(
            "O assistente vai parar de receber e responder as mensagens dos leads neste número"
        )
        await pilot.snap("desconectar", docs=True)
        await dialog.get_by_role("button", name="Cancelar").click()
        await expect(dialog).to_be_hidden()
        assert (await pilot.status())["status"] == "active"

        await pilot.button("Desconectar").click()
        await dialog.get_by_label("Motivo (opcional)").fill("Trocamos de número")
        await dialog.get_by_role("button", name="Desconectar").click()
        await pilot.expect_panel("idle")
        await expect(pilot.page.get_by_role("status")).to_have_text("O WhatsApp foi desconectado.")
        await expect(pilot.heading("Não conectado")).to_be_visible()
        status = await pilot.status()
        assert status["status"] == "disconnected"
        assert await pilot.events("WhatsApp Disconnected") == [{"reason": "Trocamos de número"}]

        await pilot.connect("finish_existing_number", "callback_first")
        await pilot.expect_connected()
        assert (await pilot.status())["status"] == "active"
        assert len(await pilot.events("Embedded Signup Completed")) == 2


class TestMember:
    async def test_member_sees_the_status_without_actions(
        self, pilot: Pilot, browser: Browser, live: Live, db: AsyncSession, member: User
    ) -> None:
        colleague = await Pilot.open(browser, live, db, member, test_name="member")
        try:
            await colleague.goto()
            await colleague.expect_panel("idle")
            await expect(colleague.page.get_by_text(MEMBER_NOTE)).to_be_visible()
            assert await colleague.page.get_by_role("button").filter(has_text="Conectar").count() == 0

            await pilot.goto()  # the admin connects in their own browser
            await pilot.connect("finish", "message_first")
            await pilot.expect_connected()

            await colleague.page.reload()
            await colleague.expect_connected()
            number = (await colleague.status())["connection"]["display_phone_number"]
            await expect(colleague.page.locator('[data-field="display_phone_number"]')).to_have_text(number)
            assert await colleague.page.get_by_role("button", name="Desconectar").count() == 0
            colleague.test_name = pilot.test_name + "-member"
            await colleague.snap("membro", docs=True)
            assert await colleague.page.locator("dialog").count() == 0
            assert colleague.console_errors() == []
        finally:
            await colleague.close()


class TestFlagOff:
    async def test_flag_off_shows_the_rollout_sentence_and_no_button(self, pilot: Pilot) -> None:
        pilot.db.add(FeatureFlag(key=WHATSAPP_EMBEDDED_SIGNUP, organization_id=None, enabled=False))
        await pilot.db.commit()
        invalidate_cache()  # the live server shares this process's flag providers
        await pilot.goto()
        await pilot.expect_panel("unavailable")
        await expect(pilot.heading("Recurso indisponível")).to_be_visible()
        await expect(pilot.page.get_by_text(UNAVAILABLE)).to_be_visible()
        assert await pilot.page.get_by_role("button", name="Conectar WhatsApp").count() == 0
        assert await pilot.page.get_by_role("button", name="Iniciar conexão").count() == 0
        await pilot.snap("indisponivel", docs=True)
        status = await pilot.status()
        assert status["status"] == "not_connected"
        assert await csrf_post(pilot, "/embedded-signup/start") == (
            403,
            {"error": {"code": "feature_disabled", "message": UNAVAILABLE}},
        )
        assert await pilot.events("WhatsApp Setup Screen Viewed") == [{}]
