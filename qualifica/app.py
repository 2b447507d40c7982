"""The application factory: resources are built in the lifespan, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from qualifica import health, home
from qualifica.accounts import api as accounts_api
from qualifica.accounts import web as accounts_web
from qualifica.config import SANDBOX_PATH, Settings
from qualifica.db import create_engine, create_sessionmaker
from qualifica.devsecrets import with_dev_secrets
from qualifica.error_handlers import install_error_handlers
from qualifica.logging import configure_logging
from qualifica.middleware import BodyLimit, SecurityHeaders
from qualifica.pages import STATIC_DIR
from qualifica.security.crypto import KeyRing
from qualifica.security.sessions import SessionCodec

META_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    settings = with_dev_secrets(settings or Settings())
    if configure_logs:
        configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.meta_http = httpx.AsyncClient(timeout=META_TIMEOUT)
        try:
            yield
        finally:
            await app.state.meta_http.aclose()
            await engine.dispose()

    app = FastAPI(title="Qualifica Leads — Conexão WhatsApp", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.session_codec = SessionCodec(settings.secret_key.get_secret_value())  # type: ignore[union-attr]
    app.state.key_ring = KeyRing.from_pairs(settings.key_ring)
    install_error_handlers(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, settings=settings)
    app.include_router(health.router)
    app.include_router(accounts_web.api)
    app.include_router(accounts_web.pages)
    app.include_router(accounts_api.router)
    app.include_router(home.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if settings.sandbox:
        from qualifica.meta.sandbox import create_sandbox_app

        app.mount(
            SANDBOX_PATH,
            create_sandbox_app(settings, webhook_url=settings.base_url + "/api/v1/whatsapp/webhook"),
        )
    return app
