"""Re-encrypt every stored secret to the primary key; resumable because each row is its own commit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from qualifica.db import sealed_columns
from qualifica.security.crypto import KeyRing, associated_data


@dataclass
class RotationReport:
    rotated: int = 0
    already_current: int = 0


async def rotate_all(sessionmaker: async_sessionmaker[AsyncSession], ring: KeyRing) -> RotationReport:
    """Walk every column declared ``info=SEALED`` (the caller has imported ``qualifica.models``)."""
    report = RotationReport()
    for table, column in sealed_columns():
        async with sessionmaker() as session:
            rows = (await session.execute(select(table.c.id, column).where(column.is_not(None)))).all()
        for row_id, stored in rows:
            if not ring.needs_rotation(stored):
                report.already_current += 1
                continue
            aad = associated_data(table.name, column.name, row_id)
            fresh = ring.encrypt(ring.decrypt(stored, aad), aad)
            async with sessionmaker() as session, session.begin():
                # Compare-and-set: a row changed meanwhile (e.g. a new token) is left as written.
                current = await session.scalar(select(column).where(table.c.id == row_id).with_for_update())
                if current == stored:
                    await session.execute(
                        update(table).where(table.c.id == row_id).values({column.name: fresh})
                    )
                    report.rotated += 1
    return report
