"""webhook changes: one row per change split out of a stored webhook body

Revision ID: 0002_webhooks
Revises: 0001
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import qualifica.db

revision: str = "0002_webhooks"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_changes",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=True),
        sa.Column("waba_id", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("received_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["webhook_events.id"],
            name=op.f("fk_webhook_changes_event_id_webhook_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_changes_organization_id_organizations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_changes")),
        sa.UniqueConstraint("event_id", "position", name=op.f("uq_webhook_changes_event_id_position")),
    )
    with op.batch_alter_table("webhook_changes", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_changes_pending", ["processed_at", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_webhook_changes_org_field", ["organization_id", "field"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_changes_waba_id"), ["waba_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_changes_waba_id"))
        batch_op.drop_index("ix_webhook_changes_org_field")
        batch_op.drop_index("ix_webhook_changes_pending")
    op.drop_table("webhook_changes")
