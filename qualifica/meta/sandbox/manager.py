"""A WhatsApp Manager stand-in for the demo: what a person does to the WABA in Meta's own settings.

``/manager`` lists the sandbox's WABAs with our app's standing on each, and two buttons a customer (or their
developer) might press at Meta: remove our app's webhook subscription (nothing tells us; the next health
check puts it back) and remove our app altogether (Meta sends PARTNER_APP_UNINSTALLED; the connection falls
into error and the admins are mailed). Plain forms, no script.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from qualifica.meta.sandbox.sandbox import Sandbox

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def manager_routes(sandbox: Sandbox) -> list[Route]:
    def root(request: Request) -> str:
        return str(request.scope.get("root_path", ""))

    async def page(request: Request) -> Response:
        app_id = sandbox.credentials.app_id
        with sandbox.lock:
            granted = {
                waba_id
                for token in sandbox.world.tokens.values()
                if token.app_id == app_id and not token.revoked
                for waba_id in token.waba_ids
            }
            wabas = [
                {
                    "id": waba.id,
                    "name": waba.name,
                    "subscribed": app_id in waba.subscribed_apps,
                    "installed": waba.id in granted,
                    "phones": [
                        p.display_phone_number for p in sandbox.world.phones.values() if p.waba_id == waba.id
                    ],
                }
                for waba in sandbox.world.wabas.values()
                if waba.id in granted or app_id in waba.subscribed_apps
            ]
        done = request.query_params.get("feito")
        return TEMPLATES.TemplateResponse(
            request, "manager.html", {"wabas": wabas, "root": root(request), "done": done}
        )

    def act(action: str) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            waba_id = request.path_params["waba_id"]
            with sandbox.lock:
                known = waba_id in sandbox.world.wabas
            if not known:
                return Response("WABA desconhecida", status_code=404)
            if action == "unsubscribe":
                sandbox.remove_subscription(waba_id)
            else:
                sandbox.uninstall_app(waba_id)
            return RedirectResponse(f"{root(request)}/manager?feito={action}", status_code=303)

        return handle

    return [
        Route("/manager", page, methods=["GET"]),
        Route("/manager/wabas/{waba_id}/unsubscribe", act("unsubscribe"), methods=["POST"]),
        Route("/manager/wabas/{waba_id}/uninstall", act("uninstall"), methods=["POST"]),
    ]
