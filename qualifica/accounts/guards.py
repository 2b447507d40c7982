"""Who is calling: the signed-in user, CSRF, and the role guards every route declares."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from fastapi import Depends, Request

from qualifica.accounts.models import Role, User
from qualifica.accounts.sessions import session_user
from qualifica.deps import CodecDep, SessionDep, SettingsDep
from qualifica.errors import CSRFFailed, Forbidden, NotAuthenticated
from qualifica.security.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, SessionData


@dataclass(frozen=True)
class Viewer:
    """Who is signed in, copied out of the ORM row so a page can still show it after a rollback."""

    id: uuid.UUID
    email: str
    role: Role
    organization_id: uuid.UUID


@dataclass(frozen=True)
class Principal:
    user: User
    session: SessionData

    @cached_property
    def viewer(self) -> Viewer:
        return Viewer(self.user.id, self.user.email, self.user.role, self.user.organization_id)


async def get_principal(request: Request, db: SessionDep, codec: CodecDep) -> Principal:
    data = codec.load(request.cookies.get(SESSION_COOKIE))
    user = await session_user(db, data) if data else None  # ended, expired or unknown: not a session
    if data is None or user is None:
        raise NotAuthenticated
    return Principal(user=user, session=data)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_same_site(request: Request, settings: SettingsDep) -> None:
    """Login CSRF: a sign-in posted from another site would sign the victim into the attacker's account.

    Browsers send ``Origin`` on every POST and ``Sec-Fetch-Site`` with it; a request without ``Origin`` (a
    script, the CLI) carries no victim's browser and is not cross-site.
    """
    origin = request.headers.get("origin")
    cross_site = request.headers.get("sec-fetch-site", "").lower() == "cross-site"
    if cross_site or (origin is not None and origin.lower().rstrip("/") != settings.origin.lower()):
        raise CSRFFailed


SameSite = Depends(require_same_site)


def check_csrf(request: Request, principal: Principal, codec: CodecDep, token: str | None) -> None:
    """The double-submit check: ``token`` (a header, or a page form's hidden field) against the cookie."""
    if not codec.csrf_ok(principal.session, token, request.cookies.get(CSRF_COOKIE)):
        raise CSRFFailed


async def require_csrf(request: Request, principal: PrincipalDep, codec: CodecDep) -> Principal:
    check_csrf(request, principal, codec, request.headers.get(CSRF_HEADER))
    return principal


CsrfPrincipal = Annotated[Principal, Depends(require_csrf)]


async def require_admin(principal: CsrfPrincipal) -> Principal:
    """An admin of the caller's organization, on a state-changing call (CSRF checked first)."""
    if principal.user.role is not Role.ADMIN:
        raise Forbidden
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


async def get_page_principal(request: Request, principal: PrincipalDep, db: SessionDep) -> Principal:
    """The signed-in user of a page; the layout reads it to show the menu and refresh the CSRF cookie."""
    _ = principal.viewer  # copied now, while the row is loaded
    request.state.principal = principal
    # The app installs what the layout's banner asks (the WhatsApp domain sits above this one).
    in_error = getattr(request.app.state, "whatsapp_in_error", None)
    request.state.whatsapp_in_error = bool(in_error and await in_error(db, principal.user.organization_id))
    return principal


PagePrincipal = Annotated[Principal, Depends(get_page_principal)]
