"""invitations (§17), their mails in the outbox, and each signup step's time

Revision ID: 0012_invitations
Revises: 0009_last_webhook_at
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import qualifica.db

revision: str = "0012_invitations"
down_revision: str | None = "0009_last_webhook_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ("disconnected", "expiring", "reconnected")
NEW_KINDS = (*OLD_KINDS, "invitation")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _kind_check(kinds: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("nonce_digest", sa.String(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("invited_by", sa.String(length=320), nullable=False),
        sa.Column("invited_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_user_id", sa.Uuid(), nullable=True),
        sa.Column("replaced_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invited_by_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["accepted_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index("ix_invitations_organization_id", ["organization_id"], unique=False)
        batch_op.create_index("ix_invitations_email", ["email"], unique=False)
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_mail_outbox_mail_kind"), type_="check")
        batch_op.create_check_constraint("mail_kind", _kind_check(NEW_KINDS))
        batch_op.alter_column("connection_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(sa.Column("invitation_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            "fk_mail_outbox_invitation_id_invitations", "invitations", ["invitation_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_mail_outbox_invitation_id", ["invitation_id"], unique=False)
    with op.batch_alter_table("embedded_signup_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step_times", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("embedded_signup_attempts", schema=None) as batch_op:
        batch_op.drop_column("step_times")
    op.execute("DELETE FROM mail_outbox WHERE kind = 'invitation'")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_outbox_invitation_id")
        batch_op.drop_constraint("fk_mail_outbox_invitation_id_invitations", type_="foreignkey")
        batch_op.drop_column("invitation_id")
        batch_op.alter_column("connection_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_constraint(op.f("ck_mail_outbox_mail_kind"), type_="check")
        batch_op.create_check_constraint("mail_kind", _kind_check(OLD_KINDS))
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_invitations_email")
        batch_op.drop_index("ix_invitations_organization_id")
    op.drop_table("invitations")
