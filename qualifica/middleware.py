"""Pure ASGI middleware: strict security headers, request body limits, and no NUL in any input."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qualifica.config import WEBHOOK_PATH, Settings
from qualifica.error_handlers import render_error
from qualifica.errors import InvalidRequest, PayloadTooLarge
from qualifica.observability import webhook_metrics

DEFAULT_BODY_LIMIT = 256 * 1024
WEBHOOK_BODY_LIMIT = 3 * 1024 * 1024  # Meta's documented maximum payload


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings) -> str:
    sdk = _origin(settings.meta_sdk_url)
    meta_frames = " ".join(sorted({*settings.meta_message_origins, _origin(settings.meta_dialog_url)}))
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {sdk}",
            f"frame-src 'self' {meta_frames}",
            "connect-src 'self'",
            "img-src 'self' data:",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            f"form-action 'self' {_origin(settings.meta_dialog_url)}",
            "frame-ancestors 'none'",
        ]
    )


# The OpenAPI pages load Swagger UI / ReDoc from their CDN with an inline bootstrap script; only they get it.
DOCS_PATHS = frozenset({"/docs", "/redoc"})
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; "
    "worker-src blob:; frame-ancestors 'none'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        headers = {
            "content-security-policy": content_security_policy(settings),
            # A stricter policy severs window.opener and Meta's postMessage never arrives.
            "cross-origin-opener-policy": "same-origin-allow-popups",
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "strict-origin-when-cross-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=()",
        }
        if settings.is_production:
            headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
        self.headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        self.docs_headers = [
            (k, DOCS_CSP.encode() if k == b"content-security-policy" else v) for k, v in self.headers
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = self.docs_headers if scope["path"] in DOCS_PATHS else self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in headers if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse bodies over the limit with 413, by Content-Length up front and by counting while reading."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = WEBHOOK_BODY_LIMIT if scope["path"] == WEBHOOK_PATH else DEFAULT_BODY_LIMIT
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            if scope["path"] == WEBHOOK_PATH:  # a streamed oversize body is counted by the endpoint itself
                webhook_metrics.event(field=None, outcome=webhook_metrics.WebhookOutcome.TOO_LARGE)
            error = PayloadTooLarge()
            await JSONResponse(error.body(), status_code=error.status)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge
            return message

        await self.app(scope, counting_receive, send)


class NulCharacter(InvalidRequest):
    message = "Os dados enviados contêm um caractere nulo (NUL), que não é aceito."

    def __init__(self, where: str) -> None:
        super().__init__(extra={"fields": [{"field": where, "reason": "contains a NUL character"}]})


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def body_holds_nul(body: bytes, *, form: bool) -> bool:
    """A raw NUL byte, ``%00`` in a URL-encoded form, or a JSON string that decodes to one (``"\\u0000"``)."""
    if b"\x00" in body or (form and b"%00" in body):
        return True
    if b"\\u0000" not in body:  # the cheap test first: almost no body gets parsed twice
        return False
    try:
        return _holds_nul(json.loads(body))
    except (ValueError, RecursionError):
        return False  # not JSON: the route answers it (400 ``malformed_json``) as it would any other


class RejectNul:
    """422 ``invalid_request`` for a NUL character in the path, the query or the body, at the edge.

    PostgreSQL's text types cannot hold NUL, so one that reached a query was a 500. The path and the query
    are checked before the route runs; the body as the route reads it, so the error is raised inside the
    app and rendered by the one error tree (a body no route reads is no input). The webhook's body is
    exempt: it is Meta's, verified on its raw bytes and sanitised when stored (``webhooks.inbox``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = "path" if "\x00" in scope["path"] else "query" if b"%00" in scope["query_string"] else None
        if where is not None:
            await render_error(Request(scope, receive), NulCharacter(where))(scope, receive, send)
            return
        if scope["path"] == WEBHOOK_PATH:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        form = content_type.lower().startswith(b"application/x-www-form-urlencoded")

        async def checking_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False) and body_holds_nul(bytes(body), form=form):
                    raise NulCharacter("body")
            return message

        await self.app(scope, checking_receive, send)
