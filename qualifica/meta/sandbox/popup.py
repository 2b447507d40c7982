"""The Embedded Signup popup pages (pt-BR): login → portfolio → WABA → number → code → permissions → payment.

Server-rendered forms, one per screen; ``static/popup.js`` only submits in auto mode and posts the final
messages to the opener (no inline script, so the pages work under ``script-src 'self'``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from qualifica.meta.sandbox.autopilot import auto_step
from qualifica.meta.sandbox.popup_steps import PAGES, StepError, advance
from qualifica.meta.sandbox.sandbox import Sandbox
from qualifica.meta.sandbox.scenario import AutoMode, Order
from qualifica.meta.sandbox.signup import CURRENT_STEP, Flow, opener_messages, user_error_data

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _origin(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc and parts.path in ("", "/"):
        return f"{parts.scheme}://{parts.netloc}"
    return None


def _auto_from(request: Request) -> AutoMode | None:
    extras = _extras(request).get("sandbox") or {}
    path = request.query_params.get("auto") or (extras.get("path") if isinstance(extras, dict) else None)
    if not path:
        return None
    order = request.query_params.get("order") or extras.get("order") or "random"
    return AutoMode(str(path), cast(Order, order), int(request.query_params.get("auto_delay_ms") or 0))


def _extras(request: Request) -> dict[str, Any]:
    try:
        extras = json.loads(request.query_params.get("extras") or "{}")
    except ValueError:
        return {}
    return extras if isinstance(extras, dict) else {}


class PopupPages:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def routes(self) -> list[Route]:
        return [
            Route("/{version}/dialog/oauth", self.entry, methods=["GET"]),
            Route("/dialog/{flow_id}/cancel", self.cancel, methods=["GET"]),
            Route("/dialog/{flow_id}/finish", self.finish, methods=["POST"]),
            Route("/dialog/{flow_id}/{page}", self.page, methods=["GET", "POST"]),
        ]

    @staticmethod
    def url(request: Request, path: str) -> str:
        """``path`` under wherever the sandbox is mounted ("" standalone, ``/_sandbox/meta`` in the app)."""
        return f"{request.scope.get('root_path', '')}{path}"

    async def entry(self, request: Request) -> Response:
        query = request.query_params
        credentials = self.sandbox.credentials
        problem = None
        if query.get("client_id") != credentials.app_id:
            problem = "O ID do aplicativo é inválido. Verifique o appId usado em FB.init."
        elif credentials.config_id and query.get("config_id") != credentials.config_id:
            problem = "A configuração de login (config_id) não pertence a este aplicativo."
        origin = _origin(query.get("origin", "")) if not query.get("redirect_uri") else None
        if problem is None and not query.get("redirect_uri") and origin is None:
            problem = "Não foi possível identificar a página que abriu esta janela."
        if problem is not None:
            return TEMPLATES.TemplateResponse(
                request, "problem.html", {"problem": problem, "root": self.url(request, "")}, status_code=400
            )
        try:
            auto = _auto_from(request)
        except ValueError:
            return TEMPLATES.TemplateResponse(
                request,
                "problem.html",
                {"problem": "Modo automático desconhecido.", "root": self.url(request, "")},
                status_code=400,
            )
        flow = self.sandbox.new_flow(
            origin=origin,
            cb=query.get("cb"),
            redirect_uri=query.get("redirect_uri"),
            state=query.get("state"),
            extras=_extras(request),
            auto=auto,
        )
        return RedirectResponse(self.url(request, f"/dialog/{flow.id}/login"), status_code=303)

    def flow(self, request: Request) -> Flow | None:
        with self.sandbox.lock:
            flow = self.sandbox.flows.get(request.path_params["flow_id"])
        return flow if flow is not None and not (flow.finished and flow.result is None) else None

    async def page(self, request: Request) -> Response:
        flow, name = self.flow(request), request.path_params["page"]
        if flow is None or name not in PAGES:
            return self.problem(request, "Esta sessão de cadastro terminou. Feche a janela e comece de novo.")
        error = None
        if request.method == "POST":
            form = {k: str(v) for k, v in (await request.form()).items()}
            try:
                with self.sandbox.lock:
                    following = advance(self.sandbox, flow, name, form)
                return RedirectResponse(self.url(request, f"/dialog/{flow.id}/{following}"), status_code=303)
            except StepError as exc:
                error = str(exc)
        return self.render(request, flow, name, error=error)

    def render(self, request: Request, flow: Flow, name: str, *, error: str | None = None) -> Response:
        with self.sandbox.lock:
            context = PAGES[name].context(self.sandbox, flow)
            leave: list[str] = []
            if name == "payment":
                result = self.sandbox.finish(flow)
                leave = opener_messages(flow, (result.event, result.data), result.code)
            elif flow.is_popup:
                step = CURRENT_STEP.get(name)
                leave = opener_messages(flow, ("CANCEL", {"current_step": step}) if step else None, None)
        auto = auto_step(flow.auto, name)
        context.update(
            title=PAGES[name].title,
            progress=PAGES[name].progress,
            flow=flow,
            page=name,
            error=error,
            root=self.url(request, ""),
            auto=auto,
            auto_delay=flow.auto.delay_ms if flow.auto else 0,
            leave_messages=json.dumps(leave) if flow.is_popup else "",
            target_origin=flow.origin or "",
            cancel_url=self.url(request, f"/dialog/{flow.id}/cancel?page={name}"),
            action=self.url(request, f"/dialog/{flow.id}/{'finish' if name == 'payment' else name}"),
        )
        return TEMPLATES.TemplateResponse(
            request, f"{name}.html", context, status_code=200 if not error else 422
        )

    def problem(self, request: Request, text: str) -> Response:
        return TEMPLATES.TemplateResponse(
            request, "problem.html", {"problem": text, "root": self.url(request, "")}, status_code=410
        )

    async def cancel(self, request: Request) -> Response:
        flow = self.flow(request)
        if flow is None:
            return self.problem(request, "Esta sessão de cadastro terminou.")
        page = request.query_params.get("page", "")
        event: tuple[str, dict[str, Any]] | None
        with self.sandbox.lock:
            flow.finished = True
            if page == "error":
                event = ("CANCEL", user_error_data(flow, self.sandbox.scenario.error_field))
            else:
                step = CURRENT_STEP.get(page)
                event = ("CANCEL", {"current_step": step}) if step else None
        if not flow.is_popup:
            assert flow.redirect_uri is not None
            query = {
                "error": "access_denied",
                "error_code": "200",
                "error_description": "Permissions error",
                "error_reason": "user_denied",
                "state": flow.state or "",
            }
            return RedirectResponse(f"{flow.redirect_uri}?{urlencode(query)}#_=_", status_code=303)
        return self.done(request, flow, opener_messages(flow, event, None))

    async def finish(self, request: Request) -> Response:
        flow = self.flow(request)
        if flow is None or flow.result is None:
            return self.problem(request, "Esta sessão de cadastro terminou.")
        result = self.sandbox.finish(flow)
        if not flow.is_popup:
            assert flow.redirect_uri is not None and result.code is not None
            query = urlencode({"code": result.code, "state": flow.state or ""})
            return RedirectResponse(f"{flow.redirect_uri}?{query}#_=_", status_code=303)
        return self.done(request, flow, opener_messages(flow, (result.event, result.data), result.code))

    def done(self, request: Request, flow: Flow, messages: list[str]) -> Response:
        context = {
            "messages": json.dumps(messages),
            "target_origin": flow.origin or "",
            "root": self.url(request, ""),
        }
        return TEMPLATES.TemplateResponse(request, "done.html", context)
