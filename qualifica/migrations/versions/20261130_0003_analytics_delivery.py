"""analytics delivery: a retry/lease time per event and an index over the undelivered ones

Revision ID: 0003_analytics_delivery
Revises: 0002_webhooks
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import qualifica.db

revision: str = "0003_analytics_delivery"
down_revision: str | None = "0002_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_attempt_at", qualifica.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_analytics_events_undelivered",
            ["occurred_at"],
            unique=False,
            postgresql_where=sa.text("delivered_at IS NULL"),
            sqlite_where=sa.text("delivered_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("analytics_events", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_events_undelivered")
        batch_op.drop_column("next_attempt_at")
