"""Render the one error tree as JSON for the API and inside the layout for pages."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from qualifica.errors import (
    AppError,
    InvalidRequest,
    MalformedJSON,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
)
from qualifica.logging import get_logger

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
        # FastAPI turns an exception raised while reading the body into a 400; keep our 413.
        if isinstance(exc.__cause__, PayloadTooLarge):
            return render_error(request, exc.__cause__)
        if exc.status_code == 404:
            return render_error(request, NotFound())
        if exc.status_code == 405:
            return render_error(request, MethodNotAllowed())
        return render_error(request, AppError(status=exc.status_code))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__, exc_info=exc)
        return render_error(request, AppError())

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
