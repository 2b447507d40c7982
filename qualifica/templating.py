"""Server-rendered pages: one Jinja2 environment, the layout, and the CSRF cookie refreshed per view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from qualifica.security.sessions import CSRF_COOKIE, SESSION_COOKIE, SESSION_MAX_AGE

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=TEMPLATES_DIR)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    csrf_token = request.app.state.session_codec.csrf_token(principal.session) if principal else None
    response = templates.TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "user": principal.viewer if principal else None,
            "csrf_token": csrf_token,
            "whatsapp_in_error": getattr(request.state, "whatsapp_in_error", False),
        }
        | (context or {}),
        status_code=status_code,
        headers=headers,
    )
    if csrf_token:
        set_csrf_cookie(response, request, csrf_token)
    return response


def set_csrf_cookie(response: Any, request: Request, token: str) -> None:
    """Readable by our scripts (double submit); never HttpOnly."""
    _set_cookie(response, request, CSRF_COOKIE, token, httponly=False)


def set_session_cookie(response: Any, request: Request, cookie: str) -> None:
    """HttpOnly: no script of ours (or injected) ever reads the session."""
    _set_cookie(response, request, SESSION_COOKIE, cookie, httponly=True)


def _set_cookie(response: Any, request: Request, name: str, value: str, *, httponly: bool) -> None:
    response.set_cookie(
        name,
        value,
        max_age=SESSION_MAX_AGE,
        httponly=httponly,
        secure=request.app.state.settings.is_production,
        samesite="lax",
        path="/",
    )
