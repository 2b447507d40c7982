"""Every use of a service key, recorded cheaply: the audit row and the key's ``last_used_at``.

A call's key use is put in an in-process buffer and written by a background flush a moment later (at most
``FLUSH_SECONDS``), many uses in one short transaction: one INSERT of the audit rows and one UPDATE per key.
The request itself only reads the key (no write, no commit on its path), and a request that fails later is
still recorded. What the buffer holds when the process dies abruptly (at most ``FLUSH_SECONDS`` of uses) is
lost; the app's shutdown flushes it. A failed flush is logged and retried with the next one.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from qualifica.assistant.models import ServiceKey
from qualifica.audit import AuditEntry
from qualifica.db import utcnow
from qualifica.logging import get_logger

log = get_logger(__name__)
FLUSH_SECONDS = 0.2
MAX_PENDING = 10_000  # beyond this (the database down for long) the oldest uses are dropped, and logged
AUDIT_ACTION = "assistant.key_used"


@dataclass(frozen=True)
class KeyUse:
    key_id: uuid.UUID
    organization_id: uuid.UUID | None
    status: str  # ok | revoked
    method: str
    route: str
    ip_address: str | None
    at: datetime = field(default_factory=utcnow)


class KeyUses:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._pending: list[KeyUse] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    def add(self, use: KeyUse) -> None:
        self._pending.append(use)
        if len(self._pending) > MAX_PENDING:
            dropped = len(self._pending) - MAX_PENDING
            del self._pending[:dropped]
            log.error("assistant.key_uses_dropped", count=dropped)
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        await self.flush()

    async def flush(self) -> int:
        """Write what is pending; returns how many uses were recorded."""
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                await self._write(batch)
            except Exception as error:  # the database is away: keep them for the next flush
                self._pending[:0] = batch
                log.error(
                    "assistant.key_uses_not_recorded", count=len(batch), error_type=type(error).__name__
                )
                return 0
        return len(batch)

    async def _write(self, batch: list[KeyUse]) -> None:
        rows: list[dict[str, Any]] = [
            {
                "id": uuid.uuid4(),
                "organization_id": use.organization_id,
                "action": AUDIT_ACTION,
                "status": use.status,
                "ip_address": use.ip_address,
                "details": {"key_id": str(use.key_id), "method": use.method, "route": use.route},
                "created_at": use.at,
            }
            for use in batch
        ]
        latest: dict[uuid.UUID, datetime] = {}
        for use in batch:
            if use.status == "ok":
                latest[use.key_id] = max(use.at, latest.get(use.key_id, use.at))
        async with self._sessionmaker() as session, session.begin():
            await session.execute(insert(AuditEntry), rows)
            for key_id, at in latest.items():
                await session.execute(
                    update(ServiceKey)
                    .where(
                        ServiceKey.id == key_id,
                        or_(ServiceKey.last_used_at.is_(None), ServiceKey.last_used_at < at),
                    )
                    .values(last_used_at=at)
                )

    async def close(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        await self.flush()
