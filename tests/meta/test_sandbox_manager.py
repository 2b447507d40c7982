"""The demo's WhatsApp Manager stand-in: a person removes our app's subscription, or our app, as at Meta."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.meta.sandbox import Sandbox
from tests.support.connections import connect_with_sandbox
from tests.support.sandbox import LiveSandbox


async def test_the_page_lists_our_waba_and_its_buttons_do_what_a_person_would_at_meta(
    db: AsyncSession, app: FastAPI, sandbox: Sandbox, live_sandbox: LiveSandbox
) -> None:
    connection, token = await connect_with_sandbox(db, app, sandbox)
    waba_id, app_id = connection.waba_id, sandbox.credentials.app_id
    async with httpx.AsyncClient(base_url=live_sandbox.url) as browser:
        page = await browser.get("/manager")
        assert page.status_code == 200 and f'data-waba="{waba_id}"' in page.text
        assert "Inscrição de webhooks do app: <strong>ativa</strong>" in page.text

        removed = await browser.post(f"/manager/wabas/{waba_id}/unsubscribe")
        assert removed.status_code == 303 and removed.headers["location"] == "/manager?feito=unsubscribe"
        assert app_id not in sandbox.waba(waba_id).subscribed_apps
        assert sandbox.token(token).revoked is False  # the app is still installed
        page = await browser.get("/manager?feito=unsubscribe")
        assert "<strong>removida</strong>" in page.text and "A próxima verificação" in page.text

        uninstalled = await browser.post(f"/manager/wabas/{waba_id}/uninstall")
        assert uninstalled.status_code == 303
        assert sandbox.token(token).revoked is True
        assert f'data-waba="{waba_id}"' not in (await browser.get("/manager")).text

        assert (await browser.post("/manager/wabas/999/uninstall")).status_code == 404
