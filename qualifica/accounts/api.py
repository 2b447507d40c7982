"""The caller's own organization: read by any member, renamed by its admins."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from qualifica.accounts.models import Organization, User
from qualifica.deps import AdminPrincipal, PrincipalDep, SessionDep

router = APIRouter(prefix="/api/v1/organization", tags=["organization"])


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
