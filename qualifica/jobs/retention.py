"""Retention: the worker deletes settled rows older than their setting, a bounded batch at a time.

Each domain declares what is settled and old enough (a query for the ids) and how to delete a batch; this
module runs one batch in one short transaction, so a backlog of millions never holds a lock for long — the
runner follows a round that deleted something with another at once, and an idle one sleeps. Several workers
may run the same purge: on PostgreSQL candidates are read ``FOR UPDATE SKIP LOCKED``, so each batch is one
worker's alone; on SQLite the single writer serialises them, and a delete that finds a row already gone
simply counts nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.jobs.leases import spread
from qualifica.runtime import Runtime

BATCH = 500  # rows per transaction: milliseconds of locks on either database
IDLE_SECONDS = 600.0  # what becomes due in ten minutes is a small batch
Key = TypeVar("Key")


def cutoff(days: int, now: datetime) -> datetime | None:
    """The moment before which settled rows go; None when the setting is 0 (kept forever)."""
    return now - timedelta(days=days) if days > 0 else None


def deleted(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


async def purge_batch(
    runtime: Runtime,
    candidates: Select[Key],
    delete: Callable[[AsyncSession, Sequence[Key]], Awaitable[int]],
) -> int:
    """Delete one batch (``candidates`` carries the order and the limit); returns how many rows went.

    ``delete`` re-states the conditions it needs, so a row that changed after it was read stays.
    """
    async with runtime.sessionmaker() as session, session.begin():
        keys = list(await session.scalars(spread(candidates, runtime)))
        return await delete(session, keys) if keys else 0
