"""Accounts rules: creating organizations and users, authenticating with throttling."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import LoginFailure, Organization, Role, User
from qualifica.db import utcnow
from qualifica.errors import AppError, InvalidCredentials, TooManyAttempts
from qualifica.security.passwords import hash_password, verify_password

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)
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
        password_hash=hash_password(password),
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise EmailTaken from None
    return user


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User:
    """Return the user, or raise. A failure is flushed into ``session``: the caller must commit it."""
    email = normalize_email(email)
    since = utcnow() - FAILURE_WINDOW
    failures = await session.execute(
        select(func.count(), func.min(LoginFailure.created_at)).where(
            LoginFailure.email == email, LoginFailure.created_at > since
        )
    )
    count, oldest = failures.one()
    if count >= MAX_FAILURES and oldest is not None:
        retry_after = max(1, math.ceil((oldest + FAILURE_WINDOW - utcnow()).total_seconds()))
        raise TooManyAttempts(headers={"Retry-After": str(retry_after)})
    user = await session.scalar(select(User).where(User.email == email))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        session.add(LoginFailure(email=email))
        await session.flush()
        raise InvalidCredentials
    await session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    user.last_login_at = utcnow()
    return user
