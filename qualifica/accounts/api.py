"""The accounts JSON API: signing in and out, and the caller's own organization."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from qualifica.accounts import profile, signin
from qualifica.accounts.guards import AdminPrincipal, CsrfPrincipal, PrincipalDep, SameSite
from qualifica.accounts.models import Organization, User
from qualifica.deps import CodecDep, RuntimeDep, SessionDep
from qualifica.errors import error_responses

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
    # The profile (§17): what Meta's signup form is prefilled with; null when not filled in.
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    street_address1: str | None = None
    street_address2: str | None = None
    city: str | None = None
    state: str | None = None
    zip_postal: str | None = None
    country: str | None = None
    time_zone: str | None = None


class OrganizationUpdate(BaseModel):
    """Only the fields sent change; an empty string clears one (the name cannot be cleared)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=1000)
    email: str | None = Field(default=None, max_length=1000)
    phone: str | None = Field(default=None, max_length=1000)
    website: str | None = Field(default=None, max_length=1000)
    street_address1: str | None = Field(default=None, max_length=1000)
    street_address2: str | None = Field(default=None, max_length=1000)
    city: str | None = Field(default=None, max_length=1000)
    state: str | None = Field(default=None, max_length=1000)
    zip_postal: str | None = Field(default=None, max_length=1000)
    country: str | None = Field(default=None, max_length=1000)
    time_zone: str | None = Field(default=None, max_length=1000)


async def _organization_out(db: SessionDep, organization: Organization) -> OrganizationOut:
    users = await db.scalars(select(User).where(User.organization_id == organization.id).order_by(User.email))
    return OrganizationOut(
        id=str(organization.id),
        name=organization.name,
        members=[Member(id=str(u.id), email=u.email, role=u.role.value) for u in users],
        **{field: getattr(organization, field) for field in profile.FIELDS if field != "name"},
    )


@router.get("", response_model=OrganizationOut)
async def read_organization(principal: PrincipalDep, db: SessionDep) -> OrganizationOut:
    organization = await db.get_one(Organization, principal.user.organization_id)
    return await _organization_out(db, organization)


@router.patch("", response_model=OrganizationOut, responses=error_responses(profile.InvalidProfile))
async def update_organization(
    body: OrganizationUpdate, principal: AdminPrincipal, db: SessionDep
) -> OrganizationOut:
    """The admin renames the organization or fills its profile; audited ``organization.profile_updated``."""
    organization = await db.get_one(Organization, principal.user.organization_id)
    checked = profile.check(body.model_dump(exclude_unset=True))
    await profile.update(db, organization, checked, actor_user_id=principal.user.id)
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
