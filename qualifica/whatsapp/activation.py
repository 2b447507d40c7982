"""Guided activation (ARCHITECTURE §17): the account manager invites the agency's admin to connect.

The invitation (``accounts.invitations``) and its mail are written in one transaction, so a crash never
leaves a link nobody was sent, nor a mail without its link.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts import invitations
from qualifica.config import Settings
from qualifica.security.crypto import KeyRing
from qualifica.whatsapp.mail.outbox import enqueue_invitation


async def invite(
    session: AsyncSession,
    ring: KeyRing,
    settings: Settings,
    *,
    organization_id: uuid.UUID,
    email: str,
    invited_by: str,
    invited_by_user_id: uuid.UUID | None = None,
) -> tuple[invitations.Invitation, str]:
    """The invitation and its link (``{BASE_URL}/convite/{token}``); its mail is queued for the worker."""
    invitation, token = await invitations.invite(
        session,
        ring=ring,
        secret=settings.require_secret_key(),
        organization_id=organization_id,
        email=email,
        invited_by=invited_by,
        invited_by_user_id=invited_by_user_id,
    )
    await enqueue_invitation(session, invitation)
    return invitation, f"{settings.base_url}/convite/{token}"
