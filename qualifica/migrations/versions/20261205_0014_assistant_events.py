"""the assistant's events (§15) and each organization's event counter

Revision ID: 0014_assistant_events
Revises: 0013_profile_rollout
Create Date: 2026-12-05 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import qualifica.db

revision: str = "0014_assistant_events"
down_revision: str | None = "0013_profile_rollout"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "assistant_event_counters",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("last_seq", SEQ, nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("push_attempts", sa.Integer(), nullable=False),
        sa.Column("push_next_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("push_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("organization_id"),
    )
    op.create_table(
        "assistant_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("seq", SEQ, nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("pushed_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "seq", name="uq_assistant_events_seq"),
        sa.UniqueConstraint("organization_id", "dedupe_key", name="uq_assistant_events_dedupe"),
    )
    with op.batch_alter_table("assistant_events", schema=None) as batch_op:
        batch_op.create_index("ix_assistant_events_pushed", ["organization_id", "seq", "pushed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assistant_events", schema=None) as batch_op:
        batch_op.drop_index("ix_assistant_events_pushed")
    op.drop_table("assistant_events")
    op.drop_table("assistant_event_counters")
