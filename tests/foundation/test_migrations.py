from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from qualifica.migrate import downgrade, upgrade
from qualifica.models import Base

EXPECTED_TABLES = {
    "organizations",
    "users",
    "whatsapp_connections",
    "embedded_signup_attempts",
    "audit_log",
    "analytics_events",
    "webhook_events",
    "feature_flags",
}
PRD_CONNECTION_COLUMNS = {
    "id", "organization_id", "waba_id", "phone_number_id", "display_phone_number", "business_name",
    "access_token", "token_expires_at", "status", "error_message", "connected_at", "disconnected_at",
    "created_at", "updated_at",
}  # fmt: skip


def _tables(url: str) -> dict[str, set[str]]:
    sync_url = make_url(url)
    sync_url = sync_url.set(
        drivername="postgresql+psycopg" if sync_url.get_backend_name() == "postgresql" else "sqlite"
    )
    engine = create_engine(sync_url)
    try:
        inspector = inspect(engine)
        return {
            name: {c["name"] for c in inspector.get_columns(name)} for name in inspector.get_table_names()
        }
    finally:
        engine.dispose()


class TestMigrations:
    def test_upgrade_from_empty_creates_every_table(self, database_url: str) -> None:
        tables = _tables(database_url)
        assert set(tables) >= EXPECTED_TABLES
        assert set(tables) - {"alembic_version"} == set(Base.metadata.tables)
        assert tables["whatsapp_connections"] >= PRD_CONNECTION_COLUMNS

    def test_schema_matches_the_models(self, database_url: str) -> None:
        for name, table in Base.metadata.tables.items():
            assert _tables(database_url)[name] == {column.name for column in table.columns}

    def test_downgrade_to_base_and_up_again(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'cycle.db'}"
        upgrade(url)
        downgrade(url, "base")
        assert set(_tables(url)) <= {"alembic_version"}
        upgrade(url)
        assert set(_tables(url)) >= EXPECTED_TABLES

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
            ("sqlite+aiosqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
            ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
            ("postgres://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
            ("postgresql+asyncpg://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
            ("postgresql+psycopg://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
        ],
    )
    def test_database_urls_are_normalised(self, raw: str, expected: str) -> None:
        from qualifica.db import normalize_database_url

        assert normalize_database_url(raw) == expected

    def test_unknown_backend_is_refused(self) -> None:
        from qualifica.db import normalize_database_url

        with pytest.raises(ValueError, match="unsupported database backend"):
            normalize_database_url("mysql://u@h/d")
