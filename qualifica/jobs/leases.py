"""Leases and retries: how a job claims a row, holds it, and tries again later.

A row is held through ``lease_owner`` (the runtime's ``owner``) and ``lease_expires_at``. Claims and guarded
writes are single compare-and-set statements, atomic on PostgreSQL (row lock) and SQLite (database lock)
alike; a write that finds the lease gone raises ``LeaseLost`` and the run stops without writing more. On
PostgreSQL candidates are read ``FOR UPDATE SKIP LOCKED`` so concurrent workers spread over them; SQLite has a
single writer, so there the compare-and-set alone decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVarTuple, cast

from sqlalchemy import ColumnElement, CursorResult, Select, String, Text, Update, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from qualifica.runtime import Runtime

Ts = TypeVarTuple("Ts")


class LeaseLost(Exception):
    """Another runner holds the row now (this one's lease ran out); stop without writing anything."""


class Leased:
    """The lease columns of a table whose rows workers claim."""

    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]


class Retried(Leased):
    """A leased row that is retried with a backoff until it settles or runs out of attempts."""

    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


def lease_free(lease_expires_at: Mapped[datetime | None], now: datetime) -> ColumnElement[bool]:
    """Nobody holds the row: no lease, or one that ran out (its holder crashed or stalled)."""
    return or_(lease_expires_at.is_(None), lease_expires_at < now)


def not_before(moment: Mapped[datetime | None], now: datetime) -> ColumnElement[bool]:
    """The row is due: no waiting time set, or it has passed."""
    return or_(moment.is_(None), moment <= now)


def spread(candidates: Select[*Ts], runtime: Runtime) -> Select[*Ts]:
    """Skip the candidates another worker is claiming right now (PostgreSQL; SQLite has one writer)."""
    return candidates if runtime.is_sqlite else candidates.with_for_update(skip_locked=True)


async def compare_and_set(session: AsyncSession, statement: Update) -> bool:
    """Run a conditional UPDATE of one row; True when its condition held (this runner won the row)."""
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount == 1


async def write_holding(session: AsyncSession, statement: Update) -> None:
    """A write guarded by the lease (its WHERE names this runner): ``LeaseLost`` when the row is not ours."""
    if not await compare_and_set(session, statement):
        raise LeaseLost


@dataclass(frozen=True)
class RetryPolicy:
    """How long a claim holds a row, how long to wait after the n-th failure, and when to give up."""

    lease: timedelta
    first_delay: timedelta
    max_delay: timedelta
    max_attempts: int

    @classmethod
    def seconds(cls, *, lease: float, first_delay: float, max_delay: float, max_attempts: int) -> RetryPolicy:
        return cls(
            timedelta(seconds=lease),
            timedelta(seconds=first_delay),
            timedelta(seconds=max_delay),
            max_attempts,
        )

    def delay(self, attempts: int) -> timedelta:
        """``first_delay`` doubled after each failure, capped at ``max_delay``."""
        delay: timedelta = self.first_delay * 2 ** max(attempts - 1, 0)
        return min(delay, self.max_delay)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
