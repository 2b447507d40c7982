"""Login and logout over JSON and over the HTML form, sharing one service and one cookie writer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from qualifica.accounts.models import User
from qualifica.accounts.service import authenticate
from qualifica.deps import CodecDep, CsrfPrincipal, SessionDep
from qualifica.errors import AppError, CSRFFailed
from qualifica.logging import get_logger
from qualifica.pages import render, set_csrf_cookie
from qualifica.security.sessions import CSRF_COOKIE, SESSION_COOKIE, SESSION_MAX_AGE, SessionCodec

log = get_logger(__name__)
api = APIRouter(prefix="/api/v1/auth", tags=["auth"])
pages = APIRouter(include_in_schema=False)


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    id: str
    email: str
    role: str
    organization_id: str


def _sign_in(response: Response, request: Request, codec: SessionCodec, user: User) -> None:
    cookie, session = codec.new_session(user.id)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        secure=request.app.state.settings.is_production,
        samesite="lax",
        path="/",
    )
    set_csrf_cookie(response, request, codec.csrf_token(session))


def _sign_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


async def _authenticate(db: SessionDep, email: str, password: str) -> User:
    try:
        user = await authenticate(db, email=email, password=password)
    except AppError as error:
        log.info("login", outcome=error.code)
        # The failed attempt must count towards throttling even though this request fails.
        await db.commit()
        raise
    log.info("login", outcome="ok", user_id=str(user.id), organization_id=str(user.organization_id))
    return user


@api.post("/login", response_model=LoginResponse)
async def login(
    body: LoginRequest, request: Request, response: Response, db: SessionDep, codec: CodecDep
) -> LoginResponse:
    user = await _authenticate(db, body.email, body.password)
    _sign_in(response, request, codec, user)
    return LoginResponse(
        id=str(user.id), email=user.email, role=user.role.value, organization_id=str(user.organization_id)
    )


@api.post("/logout", status_code=204)
async def logout(_: CsrfPrincipal) -> Response:
    response = Response(status_code=204)
    _sign_out(response)
    return response


@pages.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    return render(request, "login.html")


@pages.post("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    db: SessionDep,
    codec: CodecDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    try:
        user = await _authenticate(db, email, password)
    except AppError as error:
        return render(
            request,
            "login.html",
            {"error": error, "email": email},
            status_code=error.status,
            headers=error.headers,
        )
    response = RedirectResponse("/", status_code=303)
    _sign_in(response, request, codec, user)
    return response


@pages.post("/logout")
async def logout_form(
    request: Request, codec: CodecDep, csrf_token: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    session = codec.load(request.cookies.get(SESSION_COOKIE))
    if session is not None and not codec.csrf_ok(session, csrf_token, request.cookies.get(CSRF_COOKIE)):
        raise CSRFFailed
    response = RedirectResponse("/login", status_code=303)
    _sign_out(response)
    return response
