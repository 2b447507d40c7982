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

from qualifica.accounts.invitations import Invitation
from qualifica.accounts.models import Role, User
from qualifica.audit import record
from qualifica.db import utcnow
from qualifica.jobs.leases import lease_free
from qualifica.whatsapp.mail.models import MailKind, MailOutbox, MailStatus
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


async def listed(
    session: AsyncSession,
    *,
    status: MailStatus | None = None,
    organization_id: uuid.UUID | None = None,
    limit: int = 100,
) -> list[MailOutbox]:
    """The newest mails first, for support (``qualifica mail list``)."""
    query = select(MailOutbox).order_by(MailOutbox.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(MailOutbox.status == status)
    if organization_id is not None:
        query = query.where(MailOutbox.organization_id == organization_id)
    return list(await session.scalars(query))


async def resend(session: AsyncSession, mail_id: uuid.UUID, *, actor: str) -> MailOutbox | None:
    """Queue a mail again (failed past its attempts, or sent and not received): the worker sends it at its
    next round, with a fresh set of attempts. A mail being sent right now (under a lease) is left to it."""
    mail = await session.scalar(
        select(MailOutbox)
        .where(MailOutbox.id == mail_id, lease_free(MailOutbox.lease_expires_at))
        .with_for_update()
    )
    if mail is None:
        return None
    before = mail.status.value
    mail.status, mail.attempts, mail.next_attempt_at, mail.error, mail.sent_at = (
        MailStatus.PENDING,
        0,
        None,
        None,
        None,
    )
    await record(
        session,
        organization_id=mail.organization_id,
        action="mail.resent",
        status="success",
        details={"mail_id": str(mail.id), "kind": mail.kind.value, "previous_status": before, "actor": actor},
    )
    return mail


async def enqueue_invitation(session: AsyncSession, invitation: Invitation) -> None:
    """The invitation's mail, to the person invited (§17); the worker sends it with the link."""
    session.add(
        MailOutbox(
            kind=MailKind.INVITATION,
            organization_id=invitation.organization_id,
            invitation_id=invitation.id,
            change_key=str(invitation.id),
            recipient=invitation.email,
        )
    )
    await session.flush()
