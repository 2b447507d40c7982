"""HTTP control API (``/_control/...``) over the same ``Sandbox`` methods tests call in Python."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from qualifica.meta.sandbox.sandbox import Sandbox
from qualifica.meta.sandbox.scenario import Latency

Handler = Callable[[Sandbox, dict[str, Any], Request], Any]


def _latency(body: dict[str, Any]) -> Latency | float | None:
    if body.get("kind"):
        return Latency(body["kind"], float(body.get("a", 0)), float(body.get("b", 0)))
    seconds = body.get("seconds")
    return None if seconds is None else float(seconds)


def _failure(sandbox: Sandbox, body: dict[str, Any], _: Request) -> None:
    fields = {
        k: body[k]
        for k in (
            "code",
            "message",
            "subcode",
            "http_status",
            "is_transient",
            "error_type",
            "raw_body",
            "regain_minutes",
            "details",
            "method",
        )
        if k in body
    }
    sandbox.fail_next(body["endpoint"], int(body.get("times", 1)), **fields)


def _signup(sandbox: Sandbox, body: dict[str, Any], _: Request) -> dict[str, Any]:
    result = sandbox.complete_signup(body.get("path", "finish"), redirect_uri=body.get("redirect_uri"))
    return {
        "code": result.code,
        "event": result.event,
        "data": result.data,
        "version": result.version,
        "posted": result.posted,
    }


def _webhook(sandbox: Sandbox, body: dict[str, Any], request: Request) -> dict[str, Any] | None:
    kind = request.path_params["kind"]
    if kind == "account_update":
        sandbox.notify.account_update(body["event"], body["waba_id"])
    elif kind == "quality":
        sandbox.notify.quality_update(body["phone_id"], body.get("event", "ONBOARDING"))
    elif kind == "name":
        sandbox.notify.name_update(
            body["phone_id"], body.get("decision", "APPROVED"), body.get("rejection_reason")
        )
    elif kind == "message":
        wamid = sandbox.notify.message(
            body["phone_id"],
            body.get("sender", "5511912345678"),
            body.get("text", "Olá!"),
            user_id=body.get("user_id"),
            username=bool(body.get("username", False)),
        )
        return {"wamid": wamid}
    elif kind == "user_changed_number":
        wamid = sandbox.notify.user_changed_number(
            body["phone_id"], body["old_number"], body["new_number"], new_user_id=body.get("new_user_id")
        )
        return {"wamid": wamid}
    elif kind == "user_changed_user_id":
        wamid = sandbox.notify.user_changed_user_id(
            body["phone_id"], body.get("sender", ""), body["old_user_id"], body["new_user_id"]
        )
        return {"wamid": wamid}
    elif kind == "smb_message_echo":
        args = {k: body[k] for k in ("to", "text") if k in body}
        return {"wamid": sandbox.notify.smb_message_echo(body["phone_id"], **args)}
    else:
        raise KeyError(kind)
    return None


def _state(sandbox: Sandbox, _: dict[str, Any], __: Request) -> dict[str, Any]:
    with sandbox.lock:
        world = sandbox.world
        return {
            "app_id": sandbox.credentials.app_id,
            "config_id": sandbox.credentials.config_id,
            "businesses": [asdict(b) for b in world.businesses.values()],
            "wabas": [
                {**asdict(w), "subscribed_apps": sorted(w.subscribed_apps)} for w in world.wabas.values()
            ],
            "phones": [{**p.as_graph(), "waba_id": p.waba_id} for p in world.phones.values()],
            "auto": asdict(sandbox.scenario.auto) if sandbox.scenario.auto else None,
            "token_shape": sandbox.scenario.token_shape,
        }


def _requests(sandbox: Sandbox, _: dict[str, Any], request: Request) -> list[dict[str, Any]]:
    return [asdict(r) for r in sandbox.requests(request.query_params.get("endpoint"))]


HANDLERS: dict[tuple[str, str], Handler] = {
    ("POST", "/reset"): lambda s, b, r: s.reset(),
    ("POST", "/latency"): lambda s, b, r: s.set_latency(b["endpoint"], _latency(b)),
    ("POST", "/failures"): _failure,
    ("DELETE", "/failures"): lambda s, b, r: s.clear_failures(b.get("endpoint")),
    ("POST", "/auto"): lambda s, b, r: s.set_auto(
        b.get("path"), b.get("order", "random"), int(b.get("delay_ms", 0))
    ),
    ("POST", "/token-lifetime"): lambda s, b, r: s.set_token_lifetime(
        b.get("seconds"), send_expires_in=b.get("send_expires_in")
    ),
    ("POST", "/error-field"): lambda s, b, r: s.set_error_field(b["name"]),
    ("POST", "/coexistence-phone"): lambda s, b, r: s.set_coexistence_includes_phone(bool(b["value"])),
    ("POST", "/usage"): lambda s, b, r: s.set_usage(b.get("app"), b.get("business")),
    ("POST", "/clock/advance"): lambda s, b, r: s.advance(float(b["seconds"])),
    ("POST", "/tokens/revoke"): lambda s, b, r: s.revoke_token(b["token"]),
    ("POST", "/phones/{phone_id}/pin"): lambda s, b, r: s.set_phone_pin(
        r.path_params["phone_id"], b.get("pin")
    ),
    ("POST", "/token-shape"): lambda s, b, r: s.set_token_shape(b["shape"]),
    ("POST", "/wabas/{waba_id}/readable"): lambda s, b, r: s.set_waba_readable(
        r.path_params["waba_id"], bool(b["readable"])
    ),
    ("POST", "/wabas/{waba_id}/unsubscribe"): lambda s, b, r: s.remove_subscription(r.path_params["waba_id"]),
    ("POST", "/history-sharing"): lambda s, b, r: s.set_history_sharing(bool(b["value"])),
    ("GET", "/phones/{phone_id}/code"): lambda s, b, r: {
        "code": s.verification_code(r.path_params["phone_id"])
    },
    ("POST", "/signup"): _signup,
    ("POST", "/webhooks/{kind}"): _webhook,
    ("GET", "/webhooks/deliveries"): lambda s, b, r: [
        {**asdict(d), "body": d.payload()} for d in list(s.webhooks.deliveries)
    ],
    ("POST", "/messages/statuses"): lambda s, b, r: s.set_message_statuses(
        list(b.get("statuses", [])), b.get("delay")
    ),
    ("POST", "/messages/service-window"): lambda s, b, r: s.set_service_window_enforced(bool(b["enforced"])),
    ("POST", "/phones/{phone_id}/leads/{wa_id}/wrote"): lambda s, b, r: s.lead_wrote(
        r.path_params["phone_id"], r.path_params["wa_id"]
    ),
    ("GET", "/phones/{phone_id}/sent"): lambda s, b, r: s.sent_messages(r.path_params["phone_id"]),
    ("GET", "/state"): _state,
    ("GET", "/requests"): _requests,
    ("DELETE", "/requests"): lambda s, b, r: s.clear_requests(),
}


def _endpoint(sandbox: Sandbox, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        body: dict[str, Any] = {}
        if request.method != "GET" and await request.body():
            try:
                parsed = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
            body = parsed if isinstance(parsed, dict) else {}
        try:
            result = handler(sandbox, body, request)
        except (KeyError, ValueError, TypeError, StopIteration, IndexError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=400)
        return JSONResponse({"ok": True} if result is None else result)

    return endpoint


def control_routes(sandbox: Sandbox) -> list[Route]:
    return [
        Route(f"/_control{path}", _endpoint(sandbox, handler), methods=[method])
        for (method, path), handler in HANDLERS.items()
    ]
