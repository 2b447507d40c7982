"""Re-encrypt every stored secret to the primary key; resumable because each row is its own commit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from qualifica.security.crypto import KeyRing, associated_data
from qualifica.whatsapp.models import EmbeddedSignupAttempt, WhatsAppConnection

# Every column that holds ciphertext. A new secret column must be added here to be rotated.
SECRET_COLUMNS: tuple[tuple[type[WhatsAppConnection] | type[EmbeddedSignupAttempt], str], ...] = (
    (WhatsAppConnection, "access_token"),
    (WhatsAppConnection, "registration_pin"),
    (EmbeddedSignupAttempt, "access_token"),
    (EmbeddedSignupAttempt, "code"),
    (EmbeddedSignupAttempt, "registration_pin"),
)


@dataclass
class RotationReport:
    rotated: int = 0
    already_current: int = 0


async def rotate_all(sessionmaker: async_sessionmaker[AsyncSession], ring: KeyRing) -> RotationReport:
    report = RotationReport()
    for model, column in SECRET_COLUMNS:
        attribute = getattr(model, column)
        async with sessionmaker() as session:
            rows = (await session.execute(select(model.id, attribute).where(attribute.is_not(None)))).all()
        for row_id, stored in rows:
            if not ring.needs_rotation(stored):
                report.already_current += 1
                continue
            aad = associated_data(model.__tablename__, column, row_id)
            fresh = ring.encrypt(ring.decrypt(stored, aad), aad)
            async with sessionmaker() as session, session.begin():
                # Compare-and-set: a row changed meanwhile (e.g. a new token) is left as written.
                current = await session.scalar(select(attribute).where(model.id == row_id).with_for_update())
                if current == stored:
                    await session.execute(update(model).where(model.id == row_id).values({column: fresh}))
                    report.rotated += 1
    return report
