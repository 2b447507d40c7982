"""Leases and retries: how a job claims a row, holds it, and tries again later.

A row is held through ``lease_owner`` and ``lease_expires_at``. Each claim writes a holder token of its own
(``new_holder``: the process's ``owner`` plus random bits), so two runs in one process never both hold a row,
and every guarded write names that token. Expiry and due times are judged by the database's clock
(``database_now``), never by the host's, so a worker whose clock runs ahead cannot take a live lease. Claims
and guarded writes are single compare-and-set statements, atomic on PostgreSQL (row lock) and SQLite (database
lock) alike; a write that finds the lease gone raises ``LeaseLost`` and the run stops without writing more. On
PostgreSQL candidates are read ``FOR UPDATE SKIP LOCKED`` so concurrent workers spread over them; SQLite has a
single writer, so there the compare-and-set alone decides.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVarTuple, cast

from sqlalchemy import ColumnElement, CursorResult, Select, String, Text, Update, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from qualifica.db import UTCDateTime
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


class DatabaseNow(FunctionElement[datetime]):
    """The database's clock, ``seconds`` from now (PostgreSQL ``now()``, SQLite ``'now'``)."""

    type = UTCDateTime()
    inherit_cache = False  # ``seconds`` is not a bound parameter; a few distinct statements, not cached
    name = "database_now"

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__()
        self.seconds = float(seconds)


@compiles(DatabaseNow)
def _postgresql_now(element: DatabaseNow, compiler: SQLCompiler, **_: Any) -> str:
    return f"(now() + make_interval(secs => {element.seconds!r}))"


@compiles(DatabaseNow, "sqlite")
def _sqlite_now(element: DatabaseNow, compiler: SQLCompiler, **_: Any) -> str:
    # SQLAlchemy stores SQLite timestamps as text 'YYYY-MM-DD HH:MM:SS.ffffff': same shape, so they compare.
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', '{element.seconds:+.3f} seconds') || '000')"


def database_now(delta: timedelta = timedelta(0)) -> DatabaseNow:
    return DatabaseNow(delta.total_seconds())


Moment = datetime | ColumnElement[datetime]


def new_holder(owner: str) -> str:
    """A token for one claim: the process (for people reading the row) and random bits (for the claim)."""
    return f"{owner[:40]}/{secrets.token_hex(8)}"


def lease_free(lease_expires_at: Mapped[datetime | None], now: Moment | None = None) -> ColumnElement[bool]:
    """Nobody holds the row: no lease, or one that ran out (its holder crashed or stalled).

    ``now`` defaults to the database's clock; a test may pass a moment of its own.
    """
    return or_(lease_expires_at.is_(None), lease_expires_at < (database_now() if now is None else now))


def not_before(moment: Mapped[datetime | None], now: Moment | None = None) -> ColumnElement[bool]:
    """The row is due: no waiting time set, or it has passed (by the database's clock unless given)."""
    return or_(moment.is_(None), moment <= (database_now() if now is None else now))


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
