"""Server-side sessions: a sign-in is a row, so logging out or a password or role change ends it at once."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User, UserSession
from qualifica.db import utcnow
from qualifica.security.sessions import SESSION_MAX_AGE, SessionCodec, SessionData

SESSION_LIFETIME = timedelta(seconds=SESSION_MAX_AGE)
# last_seen_at is a hint for people, not a rule: writing it on every request would cost a write per read.
TOUCH_EVERY = timedelta(minutes=5)


async def open_session(session: AsyncSession, codec: SessionCodec, user: User) -> tuple[str, SessionData]:
    """A new session for ``user``: the cookie's value and what it carries (flushed; the caller commits)."""
    cookie, data = codec.new_session(user.id)
    now = utcnow()
    session.add(
        UserSession(
            user_id=user.id,
            token_digest=data.digest,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    await session.flush()
    return cookie, data


async def session_user(session: AsyncSession, data: SessionData) -> User | None:
    """The user of a live session (not ended, not expired), or None."""
    now = utcnow()
    row = (
        await session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(
                UserSession.token_digest == data.digest,
                UserSession.user_id == data.user_id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > now,
            )
        )
    ).first()
    if row is None:
        return None
    live, user = row
    if now - live.last_seen_at > TOUCH_EVERY:
        live.last_seen_at = now
    return user


async def end_session(session: AsyncSession, data: SessionData) -> None:
    await session.execute(
        update(UserSession)
        .where(UserSession.token_digest == data.digest, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def end_all_sessions(session: AsyncSession, user_id: uuid.UUID) -> int:
    """End every session of a user (a password or role change); return how many were live."""
    result = await session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
