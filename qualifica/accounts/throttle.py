"""Login throttling in the database (so it holds across processes): per e-mail and per client IP.

A try is *reserved* before its password is verified: its ``login_failures`` row is committed first, and only
then are the tries counted. Of N racing tries, the k-th to commit counts at least k rows, so at most
``limit`` of them ever see themselves within the limit, whatever the interleaving, on PostgreSQL (each
statement reads everything committed) and SQLite (writes are serialised). A success deletes the e-mail's rows;
what remains are failures. Over the limit, a try is refused without writing, so a flood cannot grow the table
past the limit plus the racers of one instant.

``limits`` (ARCHITECTURE §18) was considered: its storage backends are Redis, Memcached and MongoDB (or
process memory), none of which this service runs; the rule needs the database as its single source of truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from qualifica.accounts.models import LoginFailure
from qualifica.db import utcnow
from qualifica.errors import TooManyAttempts


@dataclass(frozen=True)
class LoginLimits:
    per_email: int = 5
    per_ip: int = 100
    window: timedelta = timedelta(minutes=5)


async def reserve_try(
    sessionmaker: async_sessionmaker[AsyncSession], limits: LoginLimits, *, email: str, ip: str | None
) -> None:
    """Count this try, or raise ``TooManyAttempts`` (with ``Retry-After``). Commits in its own transaction."""
    async with sessionmaker() as session:
        await _refuse_over(session, limits, email=email, ip=ip, allowance=0)
        session.add(LoginFailure(email=email, ip_address=ip, created_at=utcnow()))
        await session.commit()
        await _refuse_over(session, limits, email=email, ip=ip, allowance=1)


async def forget_failures(session: AsyncSession, *, email: str) -> None:
    """The password was right: the e-mail's failures (this try's reservation included) no longer count."""
    await session.execute(delete(LoginFailure).where(LoginFailure.email == email))


async def _refuse_over(
    session: AsyncSession, limits: LoginLimits, *, email: str, ip: str | None, allowance: int
) -> None:
    """Raise when the e-mail or the IP has ``limit + allowance`` tries or more in the window."""
    since = utcnow() - limits.window
    by_email = LoginFailure.email == email
    by_ip = LoginFailure.ip_address == ip if ip is not None else None
    for predicate, limit in ((by_email, limits.per_email), (by_ip, limits.per_ip)):
        if predicate is None:
            continue
        tries = await session.scalar(
            select(func.count()).select_from(LoginFailure).where(predicate, LoginFailure.created_at > since)
        )
        if (tries or 0) >= limit + allowance:
            raise TooManyAttempts(
                headers={"Retry-After": str(await _retry_after(session, limits, predicate, limit))}
            )


async def _retry_after(
    session: AsyncSession, limits: LoginLimits, predicate: ColumnElement[Any], limit: int
) -> int:
    """Seconds until fewer than ``limit`` tries remain in the window: when the limit-th newest ages out."""
    since = utcnow() - limits.window
    pivot: datetime | None = await session.scalar(
        select(LoginFailure.created_at)
        .where(predicate, LoginFailure.created_at > since)
        .order_by(LoginFailure.created_at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    if pivot is None:
        return 1
    return max(1, math.ceil((pivot + limits.window - utcnow()).total_seconds()))
