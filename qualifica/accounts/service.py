"""Accounts rules: creating organizations and users, checking passwords, changing passwords and roles."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from qualifica.accounts.models import Organization, Role, User
from qualifica.accounts.sessions import end_all_sessions
from qualifica.accounts.throttle import forget_failures
from qualifica.db import utcnow
from qualifica.errors import AppError, InvalidCredentials
from qualifica.security.passwords import hash_password, verify_password

MIN_PASSWORD_LENGTH = 8


class EmailTaken(AppError):
    code, status = "email_taken", 409
    message = "Já existe um usuário com este e-mail."


class WeakPassword(AppError):
    code, status = "weak_password", 422
    message = f"A senha precisa ter pelo menos {MIN_PASSWORD_LENGTH} caracteres."


class OrganizationNotFound(AppError):
    code, status = "organization_not_found", 404
    message = "Organização não encontrada."


def normalize_email(email: str) -> str:
    return email.strip().lower()


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def looks_like_email(email: str) -> bool:
    """Something @ a domain with a dot, no spaces, at most 320 characters: the shape we accept."""
    return len(email) <= 320 and bool(_EMAIL.match(email))


async def create_organization(session: AsyncSession, *, name: str) -> Organization:
    organization = Organization(name=name.strip())
    session.add(organization)
    await session.flush()
    return organization


async def create_user(
    session: AsyncSession, *, organization_id: uuid.UUID, email: str, role: Role, password: str
) -> User:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword
    if await session.get(Organization, organization_id) is None:
        raise OrganizationNotFound
    user = User(
        organization_id=organization_id,
        email=normalize_email(email),
        role=role,
        password_hash=await hash_password(password),
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise EmailTaken from None
    return user


async def authenticate(
    session: AsyncSession, reader: async_sessionmaker[AsyncSession], *, email: str, password: str
) -> User:
    """Return the user whose password this is, or raise ``InvalidCredentials``.

    The try must already be reserved (``throttle.reserve_try``): its row is the failure, unless this
    succeeds, and then the e-mail's failures are forgotten (flushed; the caller commits). The hash is read
    through ``reader`` and verified with no connection held: a login queued behind other hashes must not
    keep one of the pool's connections from every other request.
    """
    email = normalize_email(email)
    async with reader() as read:
        found = (await read.execute(select(User.id, User.password_hash).where(User.email == email))).first()
    if not await verify_password(found.password_hash if found else None, password) or found is None:
        raise InvalidCredentials
    user = await session.get(User, found.id)
    if user is None or user.password_hash != found.password_hash:  # changed while it was verified
        raise InvalidCredentials
    await forget_failures(session, email=email)
    user.last_login_at = utcnow()
    return user


async def set_password(session: AsyncSession, *, user: User, password: str) -> None:
    """A new password ends every session of the user: whoever held the old one is signed out."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword
    user.password_hash = await hash_password(password)
    await end_all_sessions(session, user.id)
    await session.flush()


async def set_role(session: AsyncSession, *, user: User, role: Role) -> None:
    """A new role ends every session of the user, so no page or script keeps acting with the old one."""
    if user.role is role:
        return
    user.role = role
    await end_all_sessions(session, user.id)
    await session.flush()
