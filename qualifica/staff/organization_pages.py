"""``/ops/organizations``: one agency at a time for the account manager (staff only), and its invitations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from qualifica.accounts.guards import CsrfPrincipal, Principal, check_csrf
from qualifica.accounts.invitations import InvalidInvitationEmail
from qualifica.accounts.models import Organization, Role
from qualifica.deps import CodecDep, RuntimeDep, SessionDep
from qualifica.errors import Forbidden, NotFound
from qualifica.staff import organizations
from qualifica.staff.pages import StaffPage, when
from qualifica.templating import render
from qualifica.whatsapp.activation import invite
from qualifica.whatsapp.models import WhatsAppConnection

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/ops", tags=["ops"])
STATUSES = ("active", "error", "disconnected", organizations.NO_CONNECTION)


@router.get("/ops/organizations", response_class=HTMLResponse)
async def organizations_page(
    request: Request, _: StaffPage, db: SessionDep, q: str = "", status: str = ""
) -> Response:
    status = status if status in STATUSES else ""
    rows = await organizations.organizations(db, query=q[:200], status=status)
    context = {"rows": rows, "q": q[:200], "status": status, "statuses": organizations.STATUS_LABELS}
    return render(request, "ops/organizations.html", context | {"when": when})


async def _organization(db: SessionDep, organization_id: uuid.UUID) -> Organization:
    organization = await db.get(Organization, organization_id)
    if organization is None:
        raise NotFound
    return organization


@router.get("/ops/organizations/{organization_id}", response_class=HTMLResponse)
async def organization_page(
    request: Request,
    organization_id: uuid.UUID,
    _: StaffPage,
    db: SessionDep,
    convite: str = "",
    erro: str = "",
) -> Response:
    organization = await _organization(db, organization_id)
    connection = await db.scalar(
        select(WhatsAppConnection).where(WhatsAppConnection.organization_id == organization_id)
    )
    context = {
        "organization": organization,
        "connection": connection,
        "entries": await organizations.timeline(db, organization),
        "invited": convite[:320],
        "invite_error": erro == "email",
        "when": when,
        "status_label": organizations.STATUS_LABELS,
    }
    return render(request, "ops/organization.html", context)


@router.post("/ops/organizations/{organization_id}/invitations")
async def invite_form(
    request: Request,
    organization_id: uuid.UUID,
    principal: StaffPage,
    db: SessionDep,
    codec: CodecDep,
    runtime: RuntimeDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """Post/redirect/get: the form on the organization's page; the mail goes out with the worker."""
    check_csrf(request, principal, codec, csrf_token)
    await _organization(db, organization_id)
    try:
        invitation, _ = await invite(
            db,
            runtime.ring,
            runtime.settings,
            organization_id=organization_id,
            email=email,
            invited_by=principal.user.email,
            invited_by_user_id=principal.user.id,
        )
    except InvalidInvitationEmail:
        await db.rollback()
        return RedirectResponse(f"/ops/organizations/{organization_id}?erro=email#convite", status_code=303)
    target = f"/ops/organizations/{organization_id}?convite={invitation.email}#convite"
    return RedirectResponse(target, status_code=303)


async def require_staff_api(principal: CsrfPrincipal) -> Principal:
    if principal.user.role is not Role.STAFF:
        raise Forbidden
    return principal


class InvitationIn(BaseModel):
    email: str = Field(max_length=320)


class InvitationOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    expires_at: str


@api.post("/organizations/{organization_id}/invitations", status_code=201, response_model=InvitationOut)
async def invite_api(
    organization_id: uuid.UUID,
    body: InvitationIn,
    principal: Annotated[Principal, Depends(require_staff_api)],
    db: SessionDep,
    runtime: RuntimeDep,
) -> InvitationOut:
    """Staff invite an organization's admin by e-mail (§17); the link goes only by mail. A new invitation to
    the same person replaces the open one."""
    await _organization(db, organization_id)
    invitation, _ = await invite(
        db,
        runtime.ring,
        runtime.settings,
        organization_id=organization_id,
        email=body.email,
        invited_by=principal.user.email,
        invited_by_user_id=principal.user.id,
    )
    return InvitationOut(
        id=invitation.id,
        organization_id=organization_id,
        email=invitation.email,
        expires_at=invitation.expires_at.isoformat(),
    )
