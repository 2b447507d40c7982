"""Driving a signup the way the page does: start, let the sandbox's popup finish, post the callback."""

from __future__ import annotations

from typing import Any

import httpx

from qualifica.meta.sandbox import Sandbox, SignupResult

BASE = "/api/v1/whatsapp"


class Browser:
    """An admin's browser session: cookies plus the CSRF header on every state-changing call."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(BASE + path, json=body or {}, headers={"X-CSRF-Token": self.csrf})

    async def start(self) -> str:
        response = await self.post("/embedded-signup/start")
        assert response.status_code == 200, response.text
        state: str = response.json()["state"]
        return state

    async def callback(self, state: str, result: SignupResult, **overrides: Any) -> httpx.Response:
        body = {"code": result.code, "state": state, "event": result.event, **result.data, **overrides}
        body = {k: v for k, v in body.items() if k in CALLBACK_FIELDS and v is not None}
        return await self.post("/embedded-signup/callback", body)

    async def status(self) -> dict[str, Any]:
        response = await self.client.get(BASE + "/connection/status")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def connect(self, sandbox: Sandbox, path: str = "finish") -> httpx.Response:
        state = await self.start()
        return await self.callback(state, sandbox.complete_signup(path))


CALLBACK_FIELDS = {"code", "state", "event", "waba_id", "phone_number_id", "business_id"}
