"""The login page, the form posts for signing in and out, and the invitation page ``/convite/{token}``."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qualifica.accounts import invitations, profile, signin
from qualifica.accounts.guards import PagePrincipal, SameSite, check_csrf
from qualifica.accounts.models import Organization, Role
from qualifica.deps import CodecDep, RuntimeDep, SessionDep, SettingsDep
from qualifica.errors import AppError, CSRFFailed, Forbidden
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


LOCAL_TIME = ZoneInfo("America/Sao_Paulo")
INVITATION_GONE = "Este convite não é mais válido. Peça um novo ao seu gerente de conta."


async def _invitation_context(db: SessionDep, invitation: invitations.Invitation) -> dict[str, Any]:
    organization = await db.get(Organization, invitation.organization_id)
    until = invitation.expires_at.astimezone(LOCAL_TIME).strftime("%d/%m/%Y às %H:%M")
    return {"invitation": invitation, "organization": organization, "until": until}


def _gone(request: Request) -> Response:
    return render(request, "invitation_gone.html", {"message": INVITATION_GONE}, status_code=410)


@router.get("/convite/{token}", response_class=HTMLResponse)
async def invitation_page(token: str, request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    found = await invitations.open_invitation(db, secret=settings.require_secret_key(), token=token[:512])
    if found is None:
        return _gone(request)
    return render(request, "invitation.html", await _invitation_context(db, found))


@router.post("/convite/{token}", response_class=HTMLResponse, dependencies=[SameSite])
async def accept_invitation(
    token: str,
    request: Request,
    db: SessionDep,
    codec: CodecDep,
    settings: SettingsDep,
    password: Annotated[str, Form(max_length=1024)] = "",
    confirmation: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Set the password, sign in, and go straight to the connection page; the link is spent."""
    found = await invitations.open_invitation(db, secret=settings.require_secret_key(), token=token[:512])
    if found is None:
        return _gone(request)
    try:
        user = await invitations.accept(db, found, password=password, confirmation=confirmation)
    except AppError as error:
        await db.rollback()
        found = await invitations.open_invitation(db, secret=settings.require_secret_key(), token=token[:512])
        if found is None:
            return _gone(request)
        context = await _invitation_context(db, found) | {"error": error}
        return render(request, "invitation.html", context, status_code=error.status)
    response = RedirectResponse("/settings/whatsapp", status_code=303)
    await signin.sign_in(response, request, db, codec, user)
    return response


PROFILE_PATH = "/settings/empresa"


def _profile_page(
    request: Request,
    organization: Organization,
    *,
    can_edit: bool,
    values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    shown = {field: (values or {}).get(field, getattr(organization, field) or "") for field in profile.FIELDS}
    context = {
        "organization": organization,
        "values": shown,
        "labels": {field: label for field, (_, label) in profile.FIELDS.items()},
        "time_zones": profile.time_zone_choices(shown.get("time_zone")),
        "can_edit": can_edit,
        "problems": problems or {},
        "saved": saved,
    }
    return render(request, "settings_empresa.html", context, status_code=status_code)


@router.get(PROFILE_PATH, response_class=HTMLResponse)
async def profile_page(
    request: Request, principal: PagePrincipal, db: SessionDep, salvo: str = ""
) -> Response:
    organization = await db.get_one(Organization, principal.user.organization_id)
    can_edit = principal.user.role is Role.ADMIN
    return _profile_page(request, organization, can_edit=can_edit, saved=salvo == "1")


@router.post(PROFILE_PATH, response_class=HTMLResponse)
async def profile_form(
    request: Request, principal: PagePrincipal, db: SessionDep, codec: CodecDep
) -> Response:
    """Post/redirect/get for the admin; every problem shown beside its field, nothing saved until all pass."""
    form = {key: str(value)[:1000] for key, value in (await request.form()).items()}
    check_csrf(request, principal, codec, form.pop("csrf_token", ""))
    if principal.user.role is not Role.ADMIN:
        raise Forbidden
    organization = await db.get_one(Organization, principal.user.organization_id)
    changes: dict[str, str | None] = {field: form.get(field, "") for field in profile.FIELDS}
    try:
        checked = profile.check(changes)
    except profile.InvalidProfile as error:
        typed = {field: form.get(field, "") for field in profile.FIELDS}
        return _profile_page(
            request, organization, can_edit=True, values=typed, problems=error.problems, status_code=422
        )
    await profile.update(db, organization, checked, actor_user_id=principal.user.id)
    return RedirectResponse(f"{PROFILE_PATH}?salvo=1", status_code=303)
