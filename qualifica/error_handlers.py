"""Render the one error tree as JSON for the API and inside the layout for pages."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qualifica.errors import (
    AppError,
    InvalidRequest,
    MalformedJSON,
    NotAuthenticated,
    NotFound,
)
from qualifica.logging import get_logger, stack_of

log = get_logger(__name__)


class MethodNotAllowed(AppError):
    code, status = "method_not_allowed", 405
    message = "Método não permitido para este endereço."


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", "")


def render_error(request: Request, error: AppError) -> Response:
    if wants_json(request):
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
    if isinstance(error, NotAuthenticated):
        return RedirectResponse("/login", status_code=303)
    from qualifica.templating import render

    return render(request, "error.html", {"error": error}, status_code=error.status, headers=error.headers)


def _validation_error(exc: RequestValidationError) -> AppError:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return MalformedJSON()
    # Only locations and messages: a rejected value may be a password or a token.
    fields: list[dict[str, Any]] = [
        {
            "field": ".".join(str(part) for part in error.get("loc", ()) if part != "body"),
            "reason": error.get("msg"),
        }
        for error in errors
    ]
    return InvalidRequest(extra={"fields": fields})


def install_error_handlers(app: FastAPI) -> None:
    async def on_app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        return render_error(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return render_error(request, _validation_error(exc))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        # FastAPI turns an exception raised while reading the body into a 400; keep ours (413, 422 for NUL).
        if isinstance(exc.__cause__, AppError):
            return render_error(request, exc.__cause__)
        if exc.status_code == 404:
            return render_error(request, NotFound())
        if exc.status_code == 405:
            return render_error(request, MethodNotAllowed())
        return render_error(request, AppError(status=exc.status_code))

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    # Starlette answers an unhandled exception outside every middleware (no security headers): answer it
    # here instead, inside them; the handler stays for a failure of the middleware themselves.
    app.add_middleware(UnhandledErrors)
    app.add_exception_handler(Exception, on_unexpected)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    stack = stack_of(exc)  # never the message (see ``stack_of``)
    log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__, frames=stack)
    return render_error(request, AppError())


class UnhandledErrors:
    """Pure ASGI: an exception no handler took becomes the error tree's 500, sent through the middleware
    above this one (``install_error_handlers`` runs before the app adds them, so they wrap it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for an answer: the server drops the connection
                raise
            response = await on_unexpected(Request(scope, receive), exc)
            await response(scope, receive, send)
