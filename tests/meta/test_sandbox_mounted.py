"""Mounted under ``/_sandbox/meta`` (demo mode), the sandbox's own links keep the mount prefix."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from qualifica.config import SANDBOX_PATH, Settings
from qualifica.meta.client import GraphClient
from qualifica.meta.sandbox import Sandbox, create_sandbox_app


async def test_mounted_sandbox_serves_graph_sdk_and_popup_under_its_prefix() -> None:
    settings = Settings(_env_file=None, sandbox=True, base_url="http://demo.test")
    app = FastAPI()
    sandbox_app = create_sandbox_app(settings)
    app.mount(SANDBOX_PATH, sandbox_app)
    sandbox: Sandbox = sandbox_app.state.sandbox
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo.test") as http:
        assert (await http.get(SANDBOX_PATH + "/healthz")).status_code == 200
        assert (await http.get(settings.meta_sdk_url)).status_code == 200
        graph = GraphClient.from_settings(settings, http)
        code = sandbox.complete_signup().code
        assert code is not None
        assert (await graph.exchange_code(code)).access_token
        params = {
            "client_id": sandbox.credentials.app_id,
            "config_id": sandbox.credentials.config_id,
            "origin": settings.origin,
            "cb": "f1",
        }
        entry = await http.get(f"{settings.meta_dialog_url}/v25.0/dialog/oauth", params=params)
        assert entry.headers["location"].startswith(SANDBOX_PATH + "/dialog/")
        page = await http.get(entry.headers["location"])
        assert f'href="{SANDBOX_PATH}/static/popup.css"' in page.text
        assert (await http.get(SANDBOX_PATH + "/static/popup.js")).status_code == 200
