"""whatsapp_connections.last_webhook_at: when a webhook about the connection was last processed

Revision ID: 0009_last_webhook_at
Revises: 0008_mail_outbox
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import qualifica.db

revision: str = "0009_last_webhook_at"
down_revision: str | None = "0008_mail_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("whatsapp_connections") as batch:
        batch.add_column(sa.Column("last_webhook_at", qualifica.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("whatsapp_connections") as batch:
        batch.drop_column("last_webhook_at")
