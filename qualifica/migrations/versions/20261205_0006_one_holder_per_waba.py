"""whatsapp_connections: one holder per WABA and per number; attempts count their PIN mismatches

Revision ID: 0006_one_holder_per_waba
Revises: 0005_user_sessions
Create Date: 2026-12-05 09:00:00

A connection that is not ``disconnected`` holds its WABA and its number; two organizations can no longer
hold the same one. Rows that already share one keep the first holder (the earliest connected) and the later
ones are disconnected, their token and PIN wiped, so the unique indexes can be built.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_one_holder_per_waba"
down_revision: str | None = "0005_user_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD = sa.text("status <> 'disconnected'")
INDEXES = {
    "uq_whatsapp_connections_held_waba_id": "waba_id",
    "uq_whatsapp_connections_held_phone_number_id": "phone_number_id",
}


def _release_later_holders(column: str) -> None:
    # Correlated subquery: both databases accept it (no UPDATE … FROM on SQLite before 3.33).
    op.execute(
        sa.text(
            f"""
            UPDATE whatsapp_connections SET status = 'disconnected', error_code = 'waba_in_use',
                access_token = NULL, registration_pin = NULL, disconnected_at = CURRENT_TIMESTAMP
            WHERE status <> 'disconnected' AND EXISTS (
                SELECT 1 FROM whatsapp_connections AS first
                WHERE first.{column} = whatsapp_connections.{column} AND first.status <> 'disconnected'
                  AND (first.created_at < whatsapp_connections.created_at
                       OR (first.created_at = whatsapp_connections.created_at
                           AND first.id < whatsapp_connections.id))
            )
            """  # noqa: S608 - column names from the constant above, no input
        )
    )


def upgrade() -> None:
    for name, column in INDEXES.items():
        _release_later_holders(column)
        op.create_index(
            name, "whatsapp_connections", [column], unique=True, postgresql_where=HELD, sqlite_where=HELD
        )
    with op.batch_alter_table("embedded_signup_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pin_mismatches", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("embedded_signup_attempts", schema=None) as batch_op:
        batch_op.drop_column("pin_mismatches")
    for name in INDEXES:
        op.drop_index(name, table_name="whatsapp_connections")
