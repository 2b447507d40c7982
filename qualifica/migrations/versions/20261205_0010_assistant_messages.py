"""assistant: service keys, service windows, sent messages and per-number send slots (ARCHITECTURE §15)

Revision ID: 0010_assistant_messages
Revises: 0009_last_webhook_at
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import qualifica.db

revision: str = "0010_assistant_messages"
down_revision: str | None = "0009_last_webhook_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assistant_send_slots",
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("next_free_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("phone_number_id", name=op.f("pk_assistant_send_slots")),
    )
    op.create_table(
        "assistant_messages",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_digest", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sent",
                "delivered",
                "read",
                "failed",
                name="assistant_message_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("wamid", sa.String(length=128), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column(
            "history",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_assistant_messages_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_messages")),
        sa.UniqueConstraint(
            "organization_id",
            "idempotency_key",
            name=op.f("uq_assistant_messages_organization_id_idempotency_key"),
        ),
        sa.UniqueConstraint("wamid", name=op.f("uq_assistant_messages_wamid")),
    )
    with op.batch_alter_table("assistant_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assistant_messages_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "ix_assistant_messages_queued",
            ["phone_number_id", "created_at"],
            unique=False,
            postgresql_where=sa.text("status = 'queued'"),
            sqlite_where=sa.text("status = 'queued'"),
        )

    op.create_table(
        "assistant_service_keys",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", qualifica.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_assistant_service_keys_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_service_keys")),
        sa.UniqueConstraint("digest", name=op.f("uq_assistant_service_keys_digest")),
    )
    with op.batch_alter_table("assistant_service_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assistant_service_keys_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "assistant_service_windows",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("wa_id", sa.String(length=32), nullable=False),
        sa.Column("last_inbound_at", qualifica.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_assistant_service_windows_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_service_windows")),
        sa.UniqueConstraint(
            "organization_id", "phone_number_id", "wa_id", name="uq_assistant_service_windows_lead"
        ),
    )


def downgrade() -> None:
    op.drop_table("assistant_service_windows")
    with op.batch_alter_table("assistant_service_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assistant_service_keys_organization_id"))

    op.drop_table("assistant_service_keys")
    with op.batch_alter_table("assistant_messages", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_assistant_messages_queued",
            postgresql_where=sa.text("status = 'queued'"),
            sqlite_where=sa.text("status = 'queued'"),
        )
        batch_op.drop_index(batch_op.f("ix_assistant_messages_organization_id"))

    op.drop_table("assistant_messages")
    op.drop_table("assistant_send_slots")
