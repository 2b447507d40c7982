"""Alembic environment: async engines, batch mode so SQLite can alter tables too."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from qualifica.db import create_engine
from qualifica.models import Base

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from qualifica.config import Settings

    return Settings().database_url


def _run(connection: Connection) -> None:
    # SQLite alters a table by copying it and dropping the old one: with foreign keys on, that drop would
    # cascade to every child row (an attempt's syncs, an organization's users). The pragma only takes effect
    # outside a transaction, so it is set before the migration's own and restored after.
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        _migrate(connection)
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `qualifica migrate`")
run_migrations_online()
