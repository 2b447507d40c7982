"""Who is calling the assistant's API: ``Authorization: Bearer <service key>`` (no cookie, no CSRF).

``ServiceDep`` authenticates the key; ``ServiceCaller.acting_for`` resolves the organization the call acts
for (a bound key: its own, and naming another is 403 ``forbidden``; an unbound key must name one);
``QueryServiceDep`` does both for routes that take ``organization_id`` in the query string.

Each use is recorded (an audit row, the key's ``last_used_at``) through ``key_uses``, off the request's
path; the request only reads the key. The key itself never reaches a log, an error or the audit: only its
id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from qualifica.accounts.models import Organization
from qualifica.assistant.errors import InvalidApiKey, OrganizationRequired
from qualifica.assistant.key_uses import KeyUse, KeyUses
from qualifica.assistant.keys import digest_of, looks_like_key
from qualifica.assistant.models import ServiceKey
from qualifica.errors import Forbidden, NotFound
from qualifica.proxies import client_ip


@dataclass(frozen=True)
class ServicePrincipal:
    """An authenticated key acting for one organization."""

    key_id: uuid.UUID
    organization_id: uuid.UUID


@dataclass(frozen=True)
class ServiceCaller:
    """An authenticated key, before the organization it acts for is known."""

    key_id: uuid.UUID
    bound_organization_id: uuid.UUID | None
    # Organizations that exist (checked once, when an unbound key names one).
    _sessionmaker: async_sessionmaker[AsyncSession]

    async def acting_for(self, organization_id: uuid.UUID | None) -> ServicePrincipal:
        """The organization of this call: the bound one (naming another → 403), or the one named (required
        for an unbound key; an unknown id → 404)."""
        if self.bound_organization_id is not None:
            if organization_id is not None and organization_id != self.bound_organization_id:
                raise Forbidden
            return ServicePrincipal(self.key_id, self.bound_organization_id)
        if organization_id is None:
            raise OrganizationRequired
        async with self._sessionmaker() as session:
            if await session.get(Organization, organization_id) is None:
                raise NotFound("Organização não encontrada.")
        return ServicePrincipal(self.key_id, organization_id)


def bearer_key(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and looks_like_key(value) else None


def key_uses(request: Request) -> KeyUses:
    """The app's buffer of key uses (made on first use; the app's shutdown flushes it)."""
    state = request.app.state
    if getattr(state, "key_uses", None) is None:
        state.key_uses = KeyUses(state.sessionmaker)
    uses: KeyUses = state.key_uses
    return uses


async def authenticate(request: Request) -> ServiceCaller:
    """The key of the ``Authorization`` header, its use recorded; 401 ``invalid_api_key`` otherwise."""
    key = bearer_key(request)
    if key is None:
        raise InvalidApiKey
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(ServiceKey.id, ServiceKey.organization_id, ServiceKey.revoked_at).where(
                    ServiceKey.digest == digest_of(key)
                )
            )
        ).one_or_none()
    if row is None:
        raise InvalidApiKey
    key_id, organization_id, revoked_at = row
    route = request.scope.get("route")
    key_uses(request).add(
        KeyUse(
            key_id=key_id,
            organization_id=organization_id,
            status="ok" if revoked_at is None else "revoked",
            method=request.method,
            route=str(getattr(route, "path", request.url.path)),
            ip_address=client_ip(request),
        )
    )
    if revoked_at is not None:
        raise InvalidApiKey
    return ServiceCaller(key_id, organization_id, sessionmaker)


ServiceDep = Annotated[ServiceCaller, Depends(authenticate)]


async def service_for_query(
    caller: ServiceDep,
    organization_id: Annotated[
        uuid.UUID | None,
        Query(description="A organização (obrigatória para uma chave não vinculada a uma organização)."),
    ] = None,
) -> ServicePrincipal:
    return await caller.acting_for(organization_id)


QueryServiceDep = Annotated[ServicePrincipal, Depends(service_for_query)]
