"""What every ``qualifica`` command shares: settings read once, one-line errors, a database session."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import ValidationError

from qualifica.config import InsecureSettingsError, Settings
from qualifica.errors import AppError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


def fail(message: str) -> typer.Exit:
    typer.echo(f"erro: {message}", err=True)
    return typer.Exit(code=1)


def load_settings(*, serving: bool = False, **overrides: object) -> Settings:
    """Settings from the environment, with one readable line instead of a traceback when they are wrong.

    ``serving``: the command starts the service or the worker, which refuse unsafe settings (§13).
    """
    try:
        from qualifica.devsecrets import with_dev_secrets

        settings = Settings(**overrides)  # type: ignore[arg-type]
        if serving:
            settings.refuse_unsafe_start()
        return with_dev_secrets(settings)
    except ValidationError as error:
        reasons = "; ".join(str(item["msg"]).removeprefix("Value error, ") for item in error.errors())
        raise fail(f"configuração inválida: {reasons}") from None
    except InsecureSettingsError as error:
        raise fail(str(error)) from None


def run(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(coroutine())
    except AppError as error:
        raise fail(error.detail) from None


async def with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from qualifica.db import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()
