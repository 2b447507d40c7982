"""Signing in and out: the one place that writes and clears the session and CSRF cookies."""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.accounts.service import authenticate
from qualifica.errors import AppError
from qualifica.logging import get_logger
from qualifica.security.sessions import CSRF_COOKIE, SESSION_COOKIE, SessionCodec
from qualifica.templating import set_csrf_cookie, set_session_cookie

log = get_logger(__name__)


def sign_in(response: Response, request: Request, codec: SessionCodec, user: User) -> None:
    cookie, session = codec.new_session(user.id)
    set_session_cookie(response, request, cookie)
    set_csrf_cookie(response, request, codec.csrf_token(session))


def sign_out(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


async def authenticate_counting_failures(db: AsyncSession, email: str, password: str) -> User:
    try:
        user = await authenticate(db, email=email, password=password)
    except AppError as error:
        log.info("login", outcome=error.code)
        # The failed attempt must count towards throttling even though this request fails.
        await db.commit()
        raise
    log.info("login", outcome="ok", user_id=str(user.id), organization_id=str(user.organization_id))
    return user
