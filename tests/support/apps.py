"""The service under test with some settings changed (a limit, the trusted proxies), its lifespan running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from qualifica.app import create_app
from qualifica.config import Settings


def changed(settings: Settings, **overrides: Any) -> Settings:
    return Settings(_env_file=None, **(settings.model_dump() | overrides))


@asynccontextmanager
async def app_with(settings: Settings, **overrides: Any) -> AsyncIterator[FastAPI]:
    application = create_app(changed(settings, **overrides), configure_logs=False)
    async with application.router.lifespan_context(application):
        yield application
