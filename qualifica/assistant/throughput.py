"""Meta's throughput per number (reference 2026 §5.3: 80 messages/s by default, 20 for a coexistence
number), shared by every web process and worker through the database.

Each number has one ``assistant_send_slots`` row holding its next free send moment (µs since the epoch).
A send claims the next slot with one conditional ``UPDATE … RETURNING``: the row moves one interval past
``max(next_free, now)``, but only while that slot is no further than ``max_wait`` away; otherwise nothing
changes and the caller queues the message instead of waiting. Row locks (PostgreSQL) and the single writer
(SQLite) make concurrent claims take distinct slots. Moments are the host's clock: hosts run NTP, and a
few milliseconds of skew can only shift a slot, never double the rate for long.
"""

from __future__ import annotations

import time

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from qualifica.assistant.models import SendSlot

MICROS = 1_000_000


def _now_us() -> int:
    return int(time.time() * MICROS)


async def take_slot(
    session: AsyncSession, phone_number_id: str, *, rate: float, max_wait: float, count: int = 1
) -> float | None:
    """Within the caller's transaction: seconds to wait before sending (0 when the number is idle), or None
    when the next free slot is more than ``max_wait`` away (nothing is claimed then). ``count`` slots in a
    row: the i-th message waits the answer plus ``i / rate``. The row stays locked until the caller
    commits: keep that transaction short."""
    interval = max(1, int(MICROS / rate))
    taken = interval * count
    for _ in range(2):
        now = _now_us()
        claimed = await session.scalar(
            update(SendSlot)
            .where(
                SendSlot.phone_number_id == phone_number_id,
                SendSlot.next_free_us <= now + int(max_wait * MICROS),
            )
            .values(
                next_free_us=case((SendSlot.next_free_us > now, SendSlot.next_free_us), else_=now) + taken
            )
            .returning(SendSlot.next_free_us)
        )
        if claimed is not None:
            return max(0.0, (int(claimed) - taken - now) / MICROS)
        exists = await session.scalar(
            select(SendSlot.phone_number_id).where(SendSlot.phone_number_id == phone_number_id)
        )
        if exists is not None:
            return None  # the number is busy beyond max_wait
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await session.execute(
            insert(SendSlot)
            .values(phone_number_id=phone_number_id, next_free_us=0)
            .on_conflict_do_nothing(index_elements=["phone_number_id"])
        )
    return None  # pragma: no cover - the row exists after the first round


async def claim_slot(
    sessionmaker: async_sessionmaker[AsyncSession],
    phone_number_id: str,
    *,
    rate: float,
    max_wait: float,
    count: int = 1,
) -> float | None:
    """``take_slot`` in a transaction of its own."""
    async with sessionmaker() as session, session.begin():
        return await take_slot(session, phone_number_id, rate=rate, max_wait=max_wait, count=count)
