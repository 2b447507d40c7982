"""mail outbox: one mail per connection change per admin, delivered by the worker

Revision ID: 0008_mail_outbox
Revises: 0007_meta_today
Create Date: 2026-12-05 00:08:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import qualifica.db

revision: str = "0008_mail_outbox"
down_revision: str | None = "0007_meta_today"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "disconnected",
                "expiring",
                "reconnected",
                name="mail_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("change_key", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                name="mail_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["connection_id"], ["whatsapp_connections.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "connection_id", "change_key", "recipient", name="uq_mail_outbox_change"),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_mail_outbox_connection_id", ["connection_id"], unique=False)
        batch_op.create_index("ix_mail_outbox_organization_id", ["organization_id"], unique=False)
        batch_op.create_index(
            "ix_mail_outbox_pending",
            ["created_at"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_outbox_pending")
        batch_op.drop_index("ix_mail_outbox_organization_id")
        batch_op.drop_index("ix_mail_outbox_connection_id")
    op.drop_table("mail_outbox")
