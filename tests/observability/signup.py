"""Driving signups as the page does (start → sandbox popup → callback), for observability tests."""

from __future__ import annotations

from typing import Any

import httpx

from qualifica.meta.sandbox import Sandbox

BASE = "/api/v1/whatsapp"
CALLBACK_FIELDS = ("waba_id", "phone_number_id", "business_id")


class Admin:
    """A signed-in admin's browser: cookies plus the CSRF header on each state-changing call."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client, self.csrf = client, csrf
        self.codes: list[str] = []  # every code Meta handed out, to prove none is stored anywhere

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(BASE + path, json=body or {}, headers={"X-CSRF-Token": self.csrf})

    async def start(self) -> str:
        response = await self.post("/embedded-signup/start")
        assert response.status_code == 200, response.text
        state: str = response.json()["state"]
        return state

    async def finish(self, sandbox: Sandbox, state: str, path: str = "finish") -> httpx.Response:
        result = sandbox.complete_signup(path)
        self.codes += [result.code] if result.code else []
        body = {"code": result.code, "state": state, "event": result.event}
        body |= {key: result.data[key] for key in CALLBACK_FIELDS if result.data.get(key) is not None}
        return await self.post("/embedded-signup/callback", body)

    async def connect(self, sandbox: Sandbox, path: str = "finish") -> httpx.Response:
        return await self.finish(sandbox, await self.start(), path)

    async def cancel(self, step: str = "PHONE_NUMBER_SETUP") -> httpx.Response:
        return await self.post("/embedded-signup/cancel", {"state": await self.start(), "step": step})
