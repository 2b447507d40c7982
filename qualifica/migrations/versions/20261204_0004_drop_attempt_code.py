"""embedded_signup_attempts: drop the sealed code (only the callback's own run, in memory, may spend it)

Revision ID: 0004_drop_attempt_code
Revises: 0003_analytics_delivery
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_drop_attempt_code"
down_revision: str | None = "0003_analytics_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("embedded_signup_attempts", schema=None) as batch_op:
        batch_op.drop_column("code")


def downgrade() -> None:
    # The column comes back empty: a dropped code is gone (and was dead 30 s after it arrived anyway).
    with op.batch_alter_table("embedded_signup_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.Text(), nullable=True))
