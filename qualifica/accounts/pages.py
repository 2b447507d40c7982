"""The login page and the HTML form posts for signing in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qualifica.accounts import signin
from qualifica.accounts.guards import SameSite
from qualifica.deps import CodecDep, RuntimeDep, SessionDep
from qualifica.errors import AppError, CSRFFailed
from qualifica.security.sessions import CSRF_COOKIE, SESSION_COOKIE
from qualifica.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    return render(request, "login.html")


@router.post("/login", response_class=HTMLResponse, dependencies=[SameSite])
async def login_form(
    request: Request,
    db: SessionDep,
    codec: CodecDep,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    try:
        user = await signin.check_password(db, runtime, request, email, password)
    except AppError as error:
        return render(
            request,
            "login.html",
            {"error": error, "email": email},
            status_code=error.status,
            headers=error.headers,
        )
    response = RedirectResponse("/", status_code=303)
    await signin.sign_in(response, request, db, codec, user)
    return response


@router.post("/logout")
async def logout_form(
    request: Request,
    db: SessionDep,
    codec: CodecDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    session = codec.load(request.cookies.get(SESSION_COOKIE))
    if session is not None and not codec.csrf_ok(session, csrf_token, request.cookies.get(CSRF_COOKIE)):
        raise CSRFFailed
    response = RedirectResponse("/login", status_code=303)
    await signin.sign_out(response, db, session)
    return response
