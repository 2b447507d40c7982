"""``create_sandbox_app``: the sandbox as one Starlette app (Graph API, SDK, popup, control, health)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from qualifica.config import Settings
from qualifica.meta.credentials import effective_credentials
from qualifica.meta.sandbox.control import control_routes
from qualifica.meta.sandbox.graph_api import make_graph_endpoint, make_media_download
from qualifica.meta.sandbox.lead_phone import phone_routes
from qualifica.meta.sandbox.manager import manager_routes
from qualifica.meta.sandbox.popup import PopupPages
from qualifica.meta.sandbox.sandbox import Sandbox

STATIC = Path(__file__).parent / "static"


async def _healthz(_: Request) -> Response:
    return PlainTextResponse("ok")


async def _sdk(_: Request) -> Response:
    # Served like Meta's CDN serves the real SDK: any page may load it.
    headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"}
    return FileResponse(STATIC / "sdk.js", media_type="text/javascript", headers=headers)


def create_sandbox_app(
    settings: Settings,
    *,
    webhook_url: str | None = None,
    sandbox: Sandbox | None = None,
    webhook_retry_base_seconds: float = 1.0,
) -> Starlette:
    """The sandbox app; ``app.state.sandbox`` is its ``Sandbox`` (the Python control API).

    Routes are relative to wherever it is mounted: ``/{version}/...`` (Graph), ``/sdk.js``, the popup at
    ``/{version}/dialog/oauth`` and ``/dialog/...``, ``/_control/...``, ``/healthz``.
    """
    sandbox = sandbox or Sandbox(
        effective_credentials(settings, sandbox=True),
        webhook_url=webhook_url,
        webhook_retry_base_seconds=webhook_retry_base_seconds,
    )
    popup = PopupPages(sandbox)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        sandbox.webhooks.close()

    routes = [
        Route("/healthz", _healthz),
        Route("/sdk.js", _sdk),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *control_routes(sandbox),
        *popup.routes(),
        *manager_routes(sandbox),
        *phone_routes(sandbox),
        Route("/media-files/{media_id}", make_media_download(sandbox), methods=["GET"]),
        Route("/{version}/{path:path}", make_graph_endpoint(sandbox), methods=["GET", "POST", "DELETE"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    return app
