"""In Chromium: the page turns from "WhatsApp conectado" to the reconnect message after Meta's revocation."""

from __future__ import annotations

import asyncio
import time

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization
from qualifica.config import WEBHOOK_PATH, Settings
from qualifica.meta.sandbox import Sandbox
from tests.support.browser import SCREENSHOTS, launch_chromium
from tests.support.connections import connect_with_sandbox
from tests.support.factories import PASSWORD, make_user
from tests.support.live import live_server

pytestmark = pytest.mark.e2e
RECONNECT = "Sessão expirada. Clique para reconectar."


async def test_partner_app_uninstalled_turns_the_page_to_reconnect(
    settings: Settings, db: AsyncSession, app: FastAPI, sandbox: Sandbox
) -> None:
    connection, token = await connect_with_sandbox(db, app, sandbox)
    admin = await make_user(db, await db.get_one(Organization, connection.organization_id))
    await db.commit()
    with live_server(settings, worker=True) as url:
        async with launch_chromium() as browser:
            page = await browser.new_page()
            try:
                await page.goto(url + "/login")
                await page.get_by_label("E-mail").fill(admin.email)
                await page.get_by_label("Senha").fill(PASSWORD)
                await page.get_by_role("button", name="Entrar").click()
                await page.wait_for_url(url + "/")
                await page.goto(url + "/settings/whatsapp")
                await page.get_by_text("WhatsApp conectado").wait_for(timeout=5000)

                sandbox.webhooks.url = url + WEBHOOK_PATH
                sandbox.revoke_token(token)  # Meta: PARTNER_APP_UNINSTALLED, signed, over the socket
                deadline, status = time.monotonic() + 5, {}
                while time.monotonic() < deadline:
                    status = await (await page.request.get(url + "/api/v1/whatsapp/connection/status")).json()
                    if (status.get("error") or {}).get("code") == "app_uninstalled":
                        break
                    await asyncio.sleep(0.1)
                assert status["status"] == "error" and status["error"]["code"] == "app_uninstalled", status

                await page.reload()
                await page.get_by_text(RECONNECT).first.wait_for(timeout=5000)
                assert await page.get_by_text("WhatsApp conectado").count() == 0
            except Exception:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOTS / "webhook-reconnect-failure.png"), full_page=True)
                raise
