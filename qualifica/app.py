"""The application factory: resources are built in the lifespan, never at import."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from qualifica import probes
from qualifica.accounts import api as accounts_api
from qualifica.accounts import pages as accounts_pages
from qualifica.config import SANDBOX_PATH, WEBHOOK_PATH, InsecureSettingsError, Settings
from qualifica.db import create_engine, create_sessionmaker
from qualifica.devsecrets import with_dev_secrets
from qualifica.error_handlers import install_error_handlers
from qualifica.home import pages as home_pages
from qualifica.logging import configure_logging
from qualifica.meta.client import GraphClient
from qualifica.middleware import BodyLimit, RejectNul, SecurityHeaders
from qualifica.observability import exposition
from qualifica.proxies import trust_proxies
from qualifica.runtime import Runtime
from qualifica.security.crypto import KeyRing
from qualifica.security.sessions import SessionCodec
from qualifica.security.state import StateSigner
from qualifica.staff import docs as staff_docs
from qualifica.staff import organization_pages
from qualifica.staff import pages as staff_pages
from qualifica.templating import STATIC_DIR
from qualifica.webhooks import api as webhooks_api
from qualifica.whatsapp import api as whatsapp_api
from qualifica.whatsapp import pages as whatsapp_pages
from qualifica.whatsapp.mail import pages as mail_pages
from qualifica.whatsapp.mail.outbox import connection_in_error
from qualifica.whatsapp.status import read_connections_gauge
from qualifica.worker import run_worker

META_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def build_runtime(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient
) -> Runtime:
    return Runtime(
        settings=settings,
        sessionmaker=sessionmaker,
        graph=GraphClient.from_settings(settings, http),
        ring=KeyRing.from_pairs(settings.key_ring),
        signer=StateSigner(settings.require_secret_key()),
    )


def create_app(
    settings: Settings | None = None, *, configure_logs: bool = True, embedded_worker: bool | None = None
) -> FastAPI:
    """``embedded_worker`` (default: on in sandbox/demo mode) runs the worker loop inside this process."""
    settings = with_dev_secrets(settings or Settings())
    if settings.sandbox_off_loopback:
        raise InsecureSettingsError(
            "refusing to start: QUALIFICA_SANDBOX needs a loopback QUALIFICA_BASE_URL (127.0.0.1, ::1, "
            "localhost); its control API hands out recorded secrets"
        )
    if configure_logs:
        configure_logging()
    run_worker_here = settings.sandbox if embedded_worker is None else embedded_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.meta_http = httpx.AsyncClient(timeout=META_TIMEOUT)
        app.state.runtime = runtime = build_runtime(settings, app.state.sessionmaker, app.state.meta_http)
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(runtime, stop)) if run_worker_here else None
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await runtime.close()
            if settings.sandbox:  # a mounted app's own lifespan never runs
                app.state.sandbox.webhooks.close()
            await app.state.meta_http.aclose()
            await engine.dispose()

    # Production serves the API description to staff only (``staff.docs``), not FastAPI's public pages.
    public_docs = not settings.is_production
    app = FastAPI(
        title="Qualifica Leads — Conexão WhatsApp",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if public_docs else None,
        redoc_url="/redoc" if public_docs else None,
        openapi_url=staff_docs.OPENAPI_PATH if public_docs else None,
    )
    app.state.settings = settings
    app.state.session_codec = SessionCodec(settings.require_secret_key())
    app.state.gauge_readers = [read_connections_gauge]
    app.state.whatsapp_in_error = connection_in_error
    install_error_handlers(app)
    app.add_middleware(RejectNul)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, settings=settings)
    trust_proxies(app, settings)
    app.include_router(probes.router)
    app.include_router(accounts_api.auth_router)
    app.include_router(accounts_pages.router)
    app.include_router(accounts_api.router)
    app.include_router(home_pages.router)
    app.include_router(whatsapp_pages.router)
    app.include_router(whatsapp_api.router)
    app.include_router(exposition.router)
    app.include_router(staff_pages.router)
    app.include_router(organization_pages.router)
    app.include_router(organization_pages.api)
    if not public_docs:
        app.include_router(staff_docs.router)
    app.include_router(webhooks_api.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if settings.sandbox:
        from qualifica.meta.sandbox import create_sandbox_app

        sandbox = create_sandbox_app(settings, webhook_url=settings.base_url + WEBHOOK_PATH)
        app.mount(SANDBOX_PATH, sandbox)
        app.state.sandbox = sandbox.state.sandbox
        app.include_router(mail_pages.router)  # the local outbox, beside the fake Meta
    return app
