"""Enqueue the mails a connection's change calls for, in the change's own transaction.

One row per admin of the organization (members get none). The unique key (kind, connection, change,
recipient) plus an insert-or-ignore makes a repeated change (a redelivered webhook, a check run twice) a
no-op on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Role, User
from qualifica.db import utcnow
from qualifica.whatsapp.mail.models import MailKind, MailOutbox
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection

UNIQUE = ["kind", "connection_id", "change_key", "recipient"]


async def enqueue(
    session: AsyncSession, connection: WhatsAppConnection, kind: MailKind, change_key: str
) -> int:
    """Queue one ``kind`` mail per admin for this change; returns how many rows were new."""
    admins = list(
        await session.scalars(
            select(User.email).where(
                User.organization_id == connection.organization_id, User.role == Role.ADMIN
            )
        )
    )
    if not admins:
        return 0
    rows: list[dict[str, Any]] = [
        {
            "id": uuid.uuid4(),
            "created_at": utcnow(),
            "kind": kind,
            "organization_id": connection.organization_id,
            "connection_id": connection.id,
            "change_key": change_key,
            "recipient": email,
        }
        for email in admins
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(MailOutbox).values(rows).on_conflict_do_nothing(index_elements=UNIQUE)
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


def change_moment(moment: datetime) -> str:
    """A change's key: the moment the connection changed (a later error is a new change)."""
    return moment.isoformat(timespec="microseconds")


async def connection_in_error(session: AsyncSession, organization_id: uuid.UUID) -> bool:
    """The organization's connection is in ``error``: every back-office page shows the banner."""
    status = await session.scalar(
        select(WhatsAppConnection.status).where(
            WhatsAppConnection.organization_id == organization_id,
            WhatsAppConnection.status == ConnectionStatus.ERROR,
        )
    )
    return status is not None
