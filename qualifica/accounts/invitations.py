"""Invitations (ARCHITECTURE §17): the link an account manager sends an agency's admin to set a password.

The link's token is signed (the service's secret key, its own salt) and carries the invitation's id and a
random nonce; only the nonce's digest is looked up, and the signature's age is checked before any query.
It works once, for 72 hours, and a new invitation to the same person in the same organization replaces the
open one. The token is also kept sealed on the row until it is used or replaced, so the worker can put it
in the mail it sends (the outbox renders mails when it sends them).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import ForeignKey, String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from qualifica.accounts.models import Organization, Role, User
from qualifica.accounts.service import looks_like_email, normalize_email
from qualifica.accounts.sessions import end_all_sessions
from qualifica.audit import record
from qualifica.db import SEALED, Base, UUIDPk, utcnow
from qualifica.errors import AppError, NotFound
from qualifica.security.crypto import KeyRing, seal
from qualifica.security.passwords import hash_password

LIFETIME = timedelta(hours=72)
MIN_PASSWORD_LENGTH = 10  # §17: "at least 10 characters"
SALT = "qualifica.invitation"


class Invitation(UUIDPk, Base):
    __tablename__ = "invitations"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), index=True)
    nonce_digest: Mapped[str] = mapped_column(String(64))
    token: Mapped[str | None] = mapped_column(Text, info=SEALED)  # until used or replaced: the mail needs it
    invited_by: Mapped[str] = mapped_column(String(320))  # a staff e-mail, or "cli:<user>"
    invited_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    replaced_at: Mapped[datetime | None]

    def is_open(self, now: datetime) -> bool:
        return self.accepted_at is None and self.replaced_at is None and self.expires_at > now


class InvalidInvitationEmail(AppError):
    code, status = "invalid_email", 422
    message = "Informe um e-mail válido."


class InvitationEmailTaken(AppError):
    code, status = "email_taken", 409
    message = "Este e-mail já tem acesso a outra imobiliária. Use outro e-mail."


class InvitationPasswordTooShort(AppError):
    code, status = "weak_password", 422
    message = f"A senha precisa ter pelo menos {MIN_PASSWORD_LENGTH} caracteres."


class InvitationPasswordsDiffer(AppError):
    code, status = "passwords_differ", 422
    message = "As duas senhas não são iguais."


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def checked_email(raw: str) -> str:
    email = normalize_email(raw)
    if not looks_like_email(email):
        raise InvalidInvitationEmail
    return email


async def invite(
    session: AsyncSession,
    *,
    ring: KeyRing,
    secret: str,
    organization_id: uuid.UUID,
    email: str,
    invited_by: str,
    invited_by_user_id: uuid.UUID | None = None,
) -> tuple[Invitation, str]:
    """A new invitation (and its token); an open one to the same person here is replaced. Audited."""
    email = checked_email(email)
    if await session.get(Organization, organization_id) is None:
        raise NotFound
    now = utcnow()
    replaced = await session.execute(
        update(Invitation)
        .where(
            Invitation.organization_id == organization_id,
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.replaced_at.is_(None),
        )
        .values(replaced_at=now, token=None)
        .execution_options(synchronize_session=False)
    )
    nonce = secrets.token_urlsafe(24)
    invitation = Invitation(
        id=uuid.uuid4(),
        organization_id=organization_id,
        email=email,
        nonce_digest=_digest(nonce),
        invited_by=invited_by[:320],
        invited_by_user_id=invited_by_user_id,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    token = _serializer(secret).dumps({"i": str(invitation.id), "n": nonce})
    invitation.token = seal(ring, invitation, "token", token)
    session.add(invitation)
    await session.flush()
    await record(
        session,
        organization_id=organization_id,
        action="invitation.sent",
        status="success",
        actor_user_id=invited_by_user_id,
        details={
            "invitation_id": str(invitation.id),
            "email": email,
            "invited_by": invited_by,
            "replaced": int(getattr(replaced, "rowcount", 0) or 0),
        },
    )
    return invitation, token


async def open_invitation(session: AsyncSession, *, secret: str, token: str) -> Invitation | None:
    """The invitation this token opens, if it still may be used; None for anything else (forged, altered,
    older than 72 h, used, replaced). Locked for the rest of the transaction when found."""
    try:
        payload = _serializer(secret).loads(token, max_age=int(LIFETIME.total_seconds()))
        invitation_id, nonce = uuid.UUID(str(payload["i"])), str(payload["n"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    invitation = await session.scalar(
        select(Invitation).where(Invitation.id == invitation_id).with_for_update()
    )
    if invitation is None or not hmac.compare_digest(invitation.nonce_digest, _digest(nonce)):
        return None
    return invitation if invitation.is_open(utcnow()) else None


async def accept(session: AsyncSession, invitation: Invitation, *, password: str, confirmation: str) -> User:
    """Set the person's password (an admin of the invitation's organization) and close the invitation."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvitationPasswordTooShort
    if password != confirmation:
        raise InvitationPasswordsDiffer
    user = await session.scalar(select(User).where(User.email == invitation.email).with_for_update())
    if user is not None and user.organization_id != invitation.organization_id:
        raise InvitationEmailTaken
    password_hash = await hash_password(password)
    if user is None:
        user = User(
            organization_id=invitation.organization_id,
            email=invitation.email,
            role=Role.ADMIN,
            password_hash=password_hash,
        )
        session.add(user)
    else:  # an existing account here: a new password, and whatever session held the old one ends
        user.password_hash = password_hash
        if user.role is Role.MEMBER:
            user.role = Role.ADMIN
        await end_all_sessions(session, user.id)
    await session.flush()
    invitation.accepted_at, invitation.accepted_user_id, invitation.token = utcnow(), user.id, None
    await record(
        session,
        organization_id=invitation.organization_id,
        action="invitation.accepted",
        status="success",
        actor_user_id=user.id,
        details={"invitation_id": str(invitation.id), "email": invitation.email},
    )
    return user
