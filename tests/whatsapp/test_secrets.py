from __future__ import annotations

import io
import json
import re

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.audit import AuditEntry
from qualifica.meta.sandbox import Sandbox
from qualifica.observability.models import AnalyticsEvent
from qualifica.security.crypto import unseal
from qualifica.whatsapp.models import WhatsAppConnection
from tests.support.accounts import sign_in
from tests.support.meta import APP_SECRET
from tests.support.signup import Browser


async def test_no_token_code_secret_or_pin_leaves_the_service(
    client: httpx.AsyncClient,
    admin: User,
    sandbox: Sandbox,
    db: AsyncSession,
    app: FastAPI,
    captured_logs: io.StringIO,
) -> None:
    browser = Browser(client, await sign_in(client, admin))
    bodies: list[str] = []

    # A signup that needs the number's existing PIN, with a wrong guess first.
    state = await browser.start()
    result = sandbox.complete_signup("finish_existing_number")
    sandbox.set_phone_pin(str(result.phone_number_id), "918273")
    bodies.append((await browser.callback(state, result)).text)
    bodies.append((await browser.post("/connection/pin", {"pin": "000111"})).text)
    bodies.append((await browser.post("/connection/pin", {"pin": "918273"})).text)
    bodies.append(json.dumps(await browser.status()))
    # A failed signup (expired code) and a disconnect.
    organization_id = admin.organization_id
    connection = await db.scalar(
        select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
    )
    assert connection is not None
    token = unseal(app.state.runtime.ring, connection, "access_token")
    bodies.append((await browser.post("/connection/disconnect", {"reason": "teste"})).text)
    state = await browser.start()
    expired = sandbox.complete_signup()
    sandbox.advance(40)
    bodies.append((await browser.callback(state, expired)).text)

    secrets = [token, result.code, expired.code, APP_SECRET, "918273", "000111"]
    assert all(secrets)
    analytics = [json.dumps(e.properties) for e in (await db.scalars(select(AnalyticsEvent))).all()]
    audit = [json.dumps(a.details) for a in (await db.scalars(select(AuditEntry))).all()]
    # A 6-digit PIN can equal the microseconds of a log line's timestamp by chance: scan without them.
    logs = re.sub(r'"timestamp": "[^"]*"', "", captured_logs.getvalue())
    assert "signup_failed" in logs  # the capture saw the pipeline's own lines
    for secret in secrets:
        for where, texts in (
            ("response", bodies),
            ("analytics", analytics),
            ("audit", audit),
            ("log", logs.splitlines()),
        ):
            leaks = [text for text in texts if str(secret) in text]
            assert leaks == [], f"a secret leaked into {where}"
