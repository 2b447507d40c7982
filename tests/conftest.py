"""Shared fixtures: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import stamina
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.app import create_app
from qualifica.config import Settings
from qualifica.meta.sandbox import Sandbox, create_sandbox_app
from qualifica.runtime import Runtime
from tests.support import meta
from tests.support.accounts import admin_user, organization
from tests.support.databases import (
    REQUIRE_POSTGRES,
    PostgresUnavailable,
    postgres_database,
    sqlite_copy,
    sqlite_template,
    truncate_postgres,
)
from tests.support.keys import encryption_key
from tests.support.live import serve_in_thread
from tests.support.logs import production_logs
from tests.support.meta import RETRY_ATTEMPTS, sandbox_settings
from tests.support.sandbox import LiveSandbox

__all__ = ["admin_user", "organization"]  # shared fixtures, registered for every directory

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def _postgres_url() -> Iterator[str]:
    try:
        with postgres_database() as url:
            yield url
    except PostgresUnavailable as error:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required here but unavailable: {error}")
        pytest.skip(f"PostgreSQL unavailable: {error}")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_copy(request.getfixturevalue("_sqlite_template"), tmp_path)
        return
    url: str = request.getfixturevalue("_postgres_url")
    try:
        yield url
    finally:
        truncate_postgres(url)


@pytest.fixture
def settings(database_url: str, live_sandbox: LiveSandbox, tmp_path: Path) -> Settings:
    """The service under test, talking to the live Meta sandbox (reset for each test) over a real socket."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        meta_graph_url=live_sandbox.url,
        secret_key=secrets.token_urlsafe(48),
        encryption_keys=f"t1:{encryption_key()}",
        meta_app_id=meta.APP_ID,
        meta_app_secret=meta.APP_SECRET,
        meta_config_id=meta.CONFIG_ID,
        meta_webhook_verify_token=meta.VERIFY_TOKEN,
        mail_dir=tmp_path / "mail",
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, configure_logs=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def runtime(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def db(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking rows; commit explicitly to make rows visible to requests."""
    async with app.state.sessionmaker() as session:
        yield session


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line as the service renders it (after redaction), for secret-leak assertions."""
    buffer = io.StringIO()
    with production_logs(logging.StreamHandler(buffer)):
        yield buffer


@pytest.fixture(scope="session")
def live_sandbox_server() -> Iterator[LiveSandbox]:
    app = create_sandbox_app(sandbox_settings(), webhook_retry_base_seconds=0.01)
    with serve_in_thread(app) as url:
        yield LiveSandbox(url, app.state.sandbox)


@pytest.fixture
def live_sandbox(live_sandbox_server: LiveSandbox) -> LiveSandbox:
    """The session's sandbox, reset to the seeded world with no scenario and no webhook target."""
    sandbox = live_sandbox_server.sandbox
    sandbox.reset()
    sandbox.webhooks.url = None
    sandbox.webhooks.duplicate_rate = 0.0
    return live_sandbox_server


@pytest.fixture
def sandbox(live_sandbox: LiveSandbox) -> Sandbox:
    return live_sandbox.sandbox


@pytest.fixture(autouse=True)
def stamina_testing() -> Iterator[None]:
    """Retries without sleeping, at most ``RETRY_ATTEMPTS`` attempts."""
    with stamina.set_testing(True, attempts=RETRY_ATTEMPTS):
        yield


_BACKEND_OF: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") in BACKENDS:
            _BACKEND_OF[item.nodeid] = callspec.params["database_url"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many database tests ran on each backend (CI must show both)."""
    counts = {backend: {"passed": 0, "failed": 0, "skipped": 0} for backend in BACKENDS}
    for outcome, key in (
        ("passed", "passed"),
        ("failed", "failed"),
        ("error", "failed"),
        ("skipped", "skipped"),
    ):
        for report in terminalreporter.stats.get(outcome, []):
            backend = _BACKEND_OF.get(getattr(report, "nodeid", ""))
            if backend and (report.when == "call" or outcome != "passed"):
                counts[backend][key] += 1
    terminalreporter.section("tests per database")
    for backend, numbers in counts.items():
        summary = ", ".join(f"{key} {value}" for key, value in numbers.items())
        terminalreporter.write_line(f"{backend} tests: {summary}")
    if counts["postgresql"]["skipped"]:
        terminalreporter.write_line(
            "PostgreSQL did not answer on TEST_POSTGRES_URL (default 127.0.0.1:5432), so its tests were "
            "skipped; CI runs them (REQUIRE_POSTGRES=1 fails instead of skipping).",
            yellow=True,
            bold=True,
        )
