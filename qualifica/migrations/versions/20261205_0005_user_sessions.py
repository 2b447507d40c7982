"""user_sessions (revocable sign-ins) and login_failures.ip_address (throttling per client IP)

Revision ID: 0005_user_sessions
Revises: 0004_drop_attempt_code
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import qualifica.db

revision: str = "0005_user_sessions"
down_revision: str | None = "0004_drop_attempt_code"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_user_sessions_token_digest")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ip_address", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_login_failures_ip_address"), ["ip_address"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_ip_address"))
        batch_op.drop_column("ip_address")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))
    op.drop_table("user_sessions")
