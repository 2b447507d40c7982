"""The simulated lead (demo): ``/phone/{phone_number_id}`` is a phone on which a person writes to the agency's
number as a lead would, and sees the agency's replies (what the number sent through the sandbox).

Each message is Meta's ``messages`` webhook, signed, to the app's webhook URL — the same path a real lead's
message takes. Plain forms, no script; the page reloads itself every few seconds to show new replies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from qualifica.meta.sandbox.sandbox import Sandbox

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
LEAD = "5511987650001"
AD = {
    "source_url": "https://fb.me/imovel-demo",
    "source_type": "ad",
    "source_id": "120200000000001",
    "headline": "Apartamento 2 quartos perto do metrô",
    "body": "Agende uma visita pelo WhatsApp",
    "media_type": "image",
    "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-DEMO",
}


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).astimezone().strftime("%H:%M")


def _lines(received: list[dict[str, Any]], sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lead's messages and the agency's replies, in time order, as the chat shows them."""
    lines = [{"who": "lead", "text": m["text"], "at": float(m["at"])} for m in received]
    for m in sent:
        text = m.get("text") or f"[modelo {m.get('template') or ''}]"
        lines.append(
            {"who": "agency", "text": text, "at": float(m.get("at") or 0), "status": m.get("status")}
        )
    return sorted(lines, key=lambda line: float(line["at"]))


def phone_routes(sandbox: Sandbox) -> list[Route]:
    def root(request: Request) -> str:
        return str(request.scope.get("root_path", ""))

    async def page(request: Request) -> Response:
        phone_id = request.path_params["phone_id"]
        with sandbox.lock:
            phone = sandbox.world.phones.get(phone_id)
            talk = sandbox.world.conversation(phone_id, LEAD) if phone is not None else None
            lines = _lines(talk.received, talk.sent) if talk is not None else []
        if phone is None:
            return Response("Número desconhecido no sandbox.", status_code=404)
        context = {
            "phone": phone,
            "lead": LEAD,
            "lines": [line | {"clock": _clock(line["at"])} for line in lines],
            "root": root(request),
        }
        return TEMPLATES.TemplateResponse(request, "lead_phone.html", context)

    async def write(request: Request) -> Response:
        phone_id = request.path_params["phone_id"]
        form = await request.form()
        text = str(form.get("text") or "").strip()[:4096]
        with sandbox.lock:
            known = phone_id in sandbox.world.phones
        if not known:
            return Response("Número desconhecido no sandbox.", status_code=404)
        if text:
            referral = AD if form.get("from_ad") else None
            sandbox.notify.message(
                phone_id, LEAD, text, referral=referral, profile_name="Lead de Demonstração"
            )
        return RedirectResponse(f"{root(request)}/phone/{phone_id}", status_code=303)

    return [
        Route("/phone/{phone_id}", page, methods=["GET"]),
        Route("/phone/{phone_id}", write, methods=["POST"]),
    ]
