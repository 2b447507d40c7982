"""signup endings that wait for the admin, coexistence syncs, contacts keyed by Meta's user ids

Revision ID: 0007_meta_today
Revises: 0006_one_holder_per_waba
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import qualifica.db

revision: str = "0007_meta_today"
down_revision: str | None = "0006_one_holder_per_waba"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("started", "processing", "pin_required", "completed", "cancelled", "failed", "expired")
NEW_STATUSES = (
    *OLD_STATUSES[:3],
    "choice_required",
    "verification_required",
    "number_required",
    *OLD_STATUSES[3:],
)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _status_check(statuses: Sequence[str]) -> str:
    return "status IN (" + ", ".join(f"'{status}'" for status in statuses) + ")"


def _set_statuses(statuses: Sequence[str]) -> None:
    with op.batch_alter_table("embedded_signup_attempts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_embedded_signup_attempts_attempt_status"), type_="check")
        batch_op.create_check_constraint("attempt_status", _status_check(statuses))


def _lease_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
    ]


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    _set_statuses(NEW_STATUSES)
    op.create_table(
        "whatsapp_coexistence_syncs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column(
            "sync_type",
            sa.Enum(
                "smb_app_state_sync",
                "history",
                name="sync_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "requested",
                "failed",
                name="sync_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("requested_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("last_delivery_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=True),
        *_lease_columns(),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_whatsapp_coexistence_syncs_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["whatsapp_connections.id"],
            name=op.f("fk_whatsapp_coexistence_syncs_connection_id_whatsapp_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_coexistence_syncs")),
        sa.UniqueConstraint(
            "attempt_id", "sync_type", name=op.f("uq_whatsapp_coexistence_syncs_attempt_id_sync_type")
        ),
    )
    with op.batch_alter_table("whatsapp_coexistence_syncs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_whatsapp_coexistence_syncs_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_whatsapp_coexistence_syncs_organization_id"), ["organization_id"], unique=False
        )
    op.create_table(
        "whatsapp_contacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=256), nullable=True),
        sa.Column("wa_id", sa.String(length=32), nullable=True),
        sa.Column("username", sa.String(length=128), nullable=True),
        sa.Column("profile_name", sa.String(length=255), nullable=True),
        sa.Column("previous_user_ids", JSON, nullable=True),
        sa.Column("previous_wa_ids", JSON, nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("last_inbound_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_whatsapp_contacts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_contacts")),
        sa.UniqueConstraint(
            "phone_number_id", "user_id", name=op.f("uq_whatsapp_contacts_phone_number_id_user_id")
        ),
        sa.UniqueConstraint(
            "phone_number_id", "wa_id", name=op.f("uq_whatsapp_contacts_phone_number_id_wa_id")
        ),
    )
    with op.batch_alter_table("whatsapp_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_whatsapp_contacts_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("whatsapp_contacts")
    op.drop_table("whatsapp_coexistence_syncs")
    op.execute(
        "UPDATE embedded_signup_attempts SET status = 'failed' "
        "WHERE status IN ('choice_required', 'verification_required', 'number_required')"
    )
    _set_statuses(OLD_STATUSES)
