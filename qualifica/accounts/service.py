"""Accounts rules: creating organizations and users, checking passwords, changing passwords and roles."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

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


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User:
    """Return the user whose password this is, or raise ``InvalidCredentials``.

    The try must already be reserved (``throttle.reserve_try``): its row is the failure, unless this
    succeeds, and then the e-mail's failures are forgotten (flushed; the caller commits).
    """
    email = normalize_email(email)
    user = await session.scalar(select(User).where(User.email == email))
    if not await verify_password(user.password_hash if user else None, password) or user is None:
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
