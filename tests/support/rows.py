"""Reading rows back: how many there are, and the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.audit import AuditEntry
from qualifica.whatsapp.models import WhatsAppConnection


async def count(db: AsyncSession, model: type[Any], *where: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def audit_entries(db: AsyncSession, action: str, *where: Any) -> list[AuditEntry]:
    """The entries of ``action`` (and ``where``) as the database has them now."""
    query = select(AuditEntry).where(AuditEntry.action == action, *where)
    return list((await db.scalars(query.execution_options(populate_existing=True))).all())


async def status_audits(db: AsyncSession, connection: WhatsAppConnection) -> list[AuditEntry]:
    return await audit_entries(
        db, "whatsapp.status_changed", AuditEntry.organization_id == connection.organization_id
    )
