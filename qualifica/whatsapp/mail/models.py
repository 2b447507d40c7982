"""The mail outbox: one row per change of a connection per recipient, written in the change's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from qualifica.db import Base, UUIDPk, str_enum, utcnow
from qualifica.jobs.leases import Retried


class MailKind(StrEnum):
    DISCONNECTED = "disconnected"  # the connection went into ``error``
    EXPIRING = "expiring"  # its token expires within 7 days
    RECONNECTED = "reconnected"  # back to ``active`` after an error
    INVITATION = "invitation"  # §17: the account manager invites the agency's admin (to the invitee)


class MailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # out of attempts: stays visible for support to resend


class MailOutbox(UUIDPk, Retried, Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (
        # The same change never mails the same person twice (a redelivered webhook, a repeated check).
        UniqueConstraint("kind", "connection_id", "change_key", "recipient", name="uq_mail_outbox_change"),
        Index(
            "ix_mail_outbox_pending",
            "created_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    kind: Mapped[MailKind] = mapped_column(str_enum(MailKind, "mail_kind"))
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # A connection's change, or (for an invitation) none: the invitation names the mail instead.
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("whatsapp_connections.id", ondelete="CASCADE"), index=True
    )
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="CASCADE"), index=True
    )
    change_key: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[MailStatus] = mapped_column(
        str_enum(MailStatus, "mail_status"), default=MailStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
