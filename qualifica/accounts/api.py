"""The accounts JSON API: signing in and out, and the caller's own organization."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from qualifica.accounts import signin
from qualifica.accounts.guards import AdminPrincipal, CsrfPrincipal, PrincipalDep, SameSite
from qualifica.accounts.models import Organization, User
from qualifica.deps import CodecDep, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/organization", tags=["organization"])
auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Member(BaseModel):
    id: str
    email: str
    role: str


class OrganizationOut(BaseModel):
    id: str
    name: str
    members: list[Member]


class OrganizationUpdate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


async def _organization_out(db: SessionDep, organization: Organization) -> OrganizationOut:
    users = await db.scalars(select(User).where(User.organization_id == organization.id).order_by(User.email))
    return OrganizationOut(
        id=str(organization.id),
        name=organization.name,
        members=[Member(id=str(u.id), email=u.email, role=u.role.value) for u in users],
    )


@router.get("", response_model=OrganizationOut)
async def read_organization(principal: PrincipalDep, db: SessionDep) -> OrganizationOut:
    organization = await db.get_one(Organization, principal.user.organization_id)
    return await _organization_out(db, organization)


@router.patch("", response_model=OrganizationOut)
async def rename_organization(
    body: OrganizationUpdate, principal: AdminPrincipal, db: SessionDep
) -> OrganizationOut:
    organization = await db.get_one(Organization, principal.user.organization_id)
    organization.name = body.name.strip()
    await db.flush()
    return await _organization_out(db, organization)


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    id: str
    email: str
    role: str
    organization_id: str


@auth_router.post("/login", response_model=LoginResponse, dependencies=[SameSite])
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    db: SessionDep,
    codec: CodecDep,
    runtime: RuntimeDep,
) -> LoginResponse:
    user = await signin.check_password(db, runtime, request, body.email, body.password)
    await signin.sign_in(response, request, db, codec, user)
    return LoginResponse(
        id=str(user.id), email=user.email, role=user.role.value, organization_id=str(user.organization_id)
    )


@auth_router.post("/logout", status_code=204)
async def logout(principal: CsrfPrincipal, db: SessionDep) -> Response:
    response = Response(status_code=204)
    await signin.sign_out(response, db, principal.session)
    return response
