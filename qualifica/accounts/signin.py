"""Signing in and out: the one place that writes and clears the session and CSRF cookies."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.accounts.service import authenticate, normalize_email
from qualifica.accounts.sessions import end_session, open_session
from qualifica.accounts.throttle import LoginLimits, reserve_try
from qualifica.config import Settings
from qualifica.errors import AppError
from qualifica.logging import get_logger
from qualifica.proxies import client_ip
from qualifica.runtime import Runtime
from qualifica.security.sessions import CSRF_COOKIE, SESSION_COOKIE, SessionCodec, SessionData
from qualifica.templating import set_csrf_cookie, set_session_cookie

log = get_logger(__name__)


def login_limits(settings: Settings) -> LoginLimits:
    return LoginLimits(per_ip=settings.login_ip_limit)


async def check_password(
    db: AsyncSession, runtime: Runtime, request: Request, email: str, password: str
) -> User:
    """The user, once the try is counted (per e-mail and per IP) and the password verified; or raise."""
    email = normalize_email(email)
    try:
        limits = login_limits(runtime.settings)
        await reserve_try(runtime.sessionmaker, limits, email=email, ip=client_ip(request))
        user = await authenticate(db, runtime.sessionmaker, email=email, password=password)
    except AppError as error:
        log.info("login", outcome=error.code)
        raise
    log.info("login", outcome="ok", user_id=str(user.id), organization_id=str(user.organization_id))
    return user


async def sign_in(
    response: Response, request: Request, db: AsyncSession, codec: SessionCodec, user: User
) -> None:
    cookie, session = await open_session(db, codec, user)
    set_session_cookie(response, request, cookie)
    set_csrf_cookie(response, request, codec.csrf_token(session))


async def sign_out(response: Response, db: AsyncSession, session: SessionData | None) -> None:
    """End the session on the server (its cookie is worthless from now on, wherever it was copied)."""
    if session is not None:
        await end_session(db, session)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
