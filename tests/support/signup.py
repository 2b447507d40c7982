"""Driving a signup the way the page does: start, let the sandbox's popup finish, post the callback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qualifica.accounts.models import User
from qualifica.meta.sandbox import Sandbox, SignupResult
from tests.support.accounts import sign_in

BASE = "/api/v1/whatsapp"
CALLBACK_FIELDS = ("waba_id", "phone_number_id", "business_id")
# Meta's ``current_step`` values and the step we record for each (ARCHITECTURE §10, "Steps").
META_STEPS = [
    ("BUSINESS_ACCOUNT_SELECTION", "business"),
    ("WABA_PHONE_PROFILE_PICKER", "waba"),
    ("WHATSAPP_BUSINESS_PROFILE_SETUP", "waba"),
    ("PHONE_NUMBER_SETUP", "phone"),
    ("PHONE_NUMBER_VERIFICATION", "phone"),
    ("PERMISSIONS", "permissions"),
]


class Browser:
    """An admin's browser session: cookies plus the CSRF header on every state-changing call."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf
        self.codes: list[str] = []  # every code Meta handed out, to prove none is stored anywhere

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(BASE + path, json=body or {}, headers={"X-CSRF-Token": self.csrf})

    async def start(self) -> str:
        response = await self.post("/embedded-signup/start")
        assert response.status_code == 200, response.text
        state: str = response.json()["state"]
        return state

    async def callback(self, state: str, result: SignupResult, **overrides: Any) -> httpx.Response:
        self.codes += [result.code] if result.code else []
        body: dict[str, Any] = {"code": result.code, "state": state}
        if result.posted:  # without the session event the page knows only the code (§14)
            body["event"] = result.event
            body |= {key: result.data[key] for key in CALLBACK_FIELDS if result.data.get(key) is not None}
        return await self.post("/embedded-signup/callback", body | overrides)

    async def finish(self, sandbox: Sandbox, state: str, path: str = "finish") -> httpx.Response:
        return await self.callback(state, sandbox.complete_signup(path))

    async def connect(self, sandbox: Sandbox, path: str = "finish") -> httpx.Response:
        return await self.finish(sandbox, await self.start(), path)

    async def cancel(self, step: str = "PHONE_NUMBER_SETUP") -> httpx.Response:
        return await self.post("/embedded-signup/cancel", {"state": await self.start(), "step": step})

    async def status(self) -> dict[str, Any]:
        response = await self.client.get(BASE + "/connection/status")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def admin(client: httpx.AsyncClient, admin_user: User) -> Browser:
    """A signed-in admin's browser (tests/whatsapp names the user ``admin`` instead)."""
    return Browser(client, await sign_in(client, admin_user))


async def make_history(client: httpx.AsyncClient, admin_user: User, sandbox: Sandbox) -> None:
    """One completed signup, one cancelled in the phone step, one failed at the code exchange."""
    admin = Browser(client, await sign_in(client, admin_user))
    assert (await admin.cancel("PHONE_NUMBER_SETUP")).status_code == 204
    sandbox.fail_next("oauth_access_token", code=100, message="(#100) Invalid parameter")
    assert (await admin.connect(sandbox)).status_code == 502
    assert (await admin.connect(sandbox)).status_code == 200
    client.cookies.clear()
