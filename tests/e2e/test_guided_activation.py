"""Guided activation in Chromium (§17): the account manager invites the admin from the organization's page,
the mail arrives (the demo's outbox), the link sets the password and lands on the connection page, the
admin connects through the sandbox, and the timeline tells the account manager how it went."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from tests.e2e.pilot import DOCS_IMAGES, VIEWPORT, Live, Pilot
from tests.support.factories import make_org, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

INVITED = "marina.alves@horizonte.com.br"
PASSWORD = "minha-senha-nova-123"


async def shot(pilot: Pilot, name: str) -> None:
    if pilot.live.on_sqlite:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        await pilot.page.mouse.move(VIEWPORT["width"] - 1, VIEWPORT["height"] - 1)
        await pilot.page.screenshot(
            path=str(DOCS_IMAGES / f"{name}.png"), full_page=True, animations="disabled"
        )


async def invitation_link(pilot: Pilot) -> str:
    """The link as the invited person reads it: the demo's outbox, once the worker has sent the mail."""
    for _ in range(100):
        await pilot.page.goto("/_sandbox/mail")
        row = pilot.page.get_by_test_id("mail-row").filter(has_text="Ative o Qualifica Leads")
        if await row.count() and await row.get_by_role("cell", name="Enviado", exact=True).count():
            await row.get_by_role("link").click()
            found = re.search(
                r"http://\S+/convite/\S+", await pilot.page.get_by_test_id("mail-text").inner_text()
            )
            assert found is not None
            return found.group(0)
        await asyncio.sleep(0.1)
    raise AssertionError("the invitation mail was never sent")


async def test_staff_invite_the_admin_who_sets_a_password_and_connects(
    browser: Browser, live: Live, db: AsyncSession, organization: Organization, request: pytest.FixtureRequest
) -> None:
    staff = await make_user(
        db, await make_org(db, "Qualifica"), role=Role.STAFF, email="gerente@qualifica.test"
    )
    await db.commit()
    org_id = organization.id
    manager = await Pilot.open(browser, live, db, staff, test_name=request.node.name + "-staff")
    try:
        await manager.page.goto("/ops/organizations?q=Horizonte")
        await manager.page.get_by_role("link", name="Imobiliária Horizonte").click()
        await manager.page.get_by_role("heading", name="Convidar o administrador").wait_for()
        await manager.page.get_by_label("E-mail do administrador").fill(INVITED)
        await manager.page.get_by_role("button", name="Enviar convite").click()
        await expect(manager.page.get_by_test_id("invite-sent")).to_have_text(
            f"Convite enviado para {INVITED}."
        )
        link = await invitation_link(manager)

        context = await browser.new_context(locale="pt-BR", viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            page = await context.new_page()
            await page.goto(link)
            await expect(page.get_by_role("heading", level=1)).to_have_text(
                "Ative o Qualifica Leads da Imobiliária Horizonte"
            )
            await page.get_by_label("Nova senha (pelo menos 10 caracteres)").fill(PASSWORD)
            await page.get_by_label("Repita a senha").fill(PASSWORD)
            if live.on_sqlite:
                await page.screenshot(
                    path=str(DOCS_IMAGES / "convite.png"), full_page=True, animations="disabled"
                )
            await page.get_by_role("button", name="Criar senha e entrar").click()
            await page.wait_for_url("**/settings/whatsapp")
            user = await db.scalar(select(User).where(User.email == INVITED))
            assert user is not None and user.role is Role.ADMIN and user.organization_id == org_id
            admin = Pilot(live, db, user, context, page, request.node.name + "-admin")
            await admin.heading("Conexão WhatsApp").wait_for()
            await admin.connect("finish", "random")
            await admin.expect_connected()

            await page.goto(link)  # the link again: spent
            await expect(page.get_by_test_id("invitation-gone")).to_have_text(
                "Este convite não é mais válido. Peça um novo ao seu gerente de conta."
            )
        finally:
            await context.close()

        await manager.page.goto(f"/ops/organizations/{org_id}")
        timeline = manager.page.get_by_test_id("timeline")
        await expect(timeline).to_contain_text("Conexão concluída")
        await expect(timeline).to_contain_text("Auditoria: invitation.accepted")
        await expect(timeline).to_contain_text(f"por {INVITED}")
        await shot(manager, "ops-organizacao")
        await manager.page.goto("/ops/organizations")
        await expect(manager.page.locator(f'tr[data-organization="{org_id}"]')).to_contain_text("Conectado")
        await shot(manager, "ops-organizacoes")
        assert manager.console_errors() == []
    finally:
        await manager.close()
