"""the organization's profile (Meta's prefill) and the rollout's phases (§17)

Revision ID: 0013_profile_rollout
Revises: 0012_invitations
Create Date: 2026-12-05 01:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import qualifica.db

revision: str = "0013_profile_rollout"
down_revision: str | None = "0012_invitations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROFILE = (
    ("email", 320),
    ("phone", 20),
    ("website", 300),
    ("street_address1", 200),
    ("street_address2", 200),
    ("city", 100),
    ("state", 100),
    ("zip_postal", 20),
    ("country", 2),
    ("time_zone", 64),
)


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        for name, length in PROFILE:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    op.create_table(
        "rollout_phases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "phase",
            sa.Enum(
                "staging",
                "pilots",
                "monitoring",
                "general",
                name="rollout_phase",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("changed_by", sa.String(length=320), nullable=False),
        sa.Column("changed_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rollout_phases", schema=None) as batch_op:
        batch_op.create_index("ix_rollout_phases_changed_at", ["changed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rollout_phases", schema=None) as batch_op:
        batch_op.drop_index("ix_rollout_phases_changed_at")
    op.drop_table("rollout_phases")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        for name, _ in reversed(PROFILE):
            batch_op.drop_column(name)
