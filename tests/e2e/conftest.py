"""Chromium against the live service in demo-like mode: the Meta sandbox mounted same-origin.

One Chromium per module, a new browser context per test, a new live server (and database) per test. The
tests of a module share the module's event loop (``pytest.mark.asyncio(loop_scope="module")``), so every
async fixture here runs on that loop too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.app import create_app
from qualifica.config import Settings
from qualifica.db import create_engine, create_sessionmaker
from tests.e2e.pilot import Live, Pilot
from tests.support.browser import launch_chromium
from tests.support.factories import make_org, make_user
from tests.support.live import free_port, serve_in_thread

ADMIN_EMAIL = "ana.souza@horizonte.com.br"
MEMBER_EMAIL = "carlos.lima@horizonte.com.br"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def live_overrides() -> dict[str, Any]:
    """Settings a test changes for its server; parametrize ``live_overrides`` directly to change them."""
    return {}


@pytest.fixture
def live(settings: Settings, live_overrides: dict[str, Any]) -> Iterator[Live]:
    """The app as ``qualifica demo`` runs it (sandbox mounted, worker inside), on a port known in advance."""
    port = free_port()
    values = settings.model_dump() | {"sandbox": True, "base_url": f"http://127.0.0.1:{port}"}
    served = Settings(_env_file=None, **(values | live_overrides))
    app = create_app(served, configure_logs=False)
    with serve_in_thread(app, port=port) as url:
        yield Live(url=url, app=app, settings=served)


@pytest_asyncio.fixture(loop_scope="module")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="module")
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking rows (this loop's own engine; the server has another)."""
    async with create_sessionmaker(engine)() as session:
        yield session


@pytest_asyncio.fixture(loop_scope="module")
async def organization(db: AsyncSession) -> Organization:
    organization = await make_org(db, "Imobiliária Horizonte")
    await db.commit()
    return organization


@pytest_asyncio.fixture(loop_scope="module")
async def admin(db: AsyncSession, organization: Organization) -> User:
    user = await make_user(db, organization, role=Role.ADMIN, email=ADMIN_EMAIL)
    await db.commit()
    return user


@pytest_asyncio.fixture(loop_scope="module")
async def member(db: AsyncSession, organization: Organization) -> User:
    user = await make_user(db, organization, role=Role.MEMBER, email=MEMBER_EMAIL)
    await db.commit()
    return user


@pytest_asyncio.fixture(loop_scope="module")
async def pilot(
    browser: Browser, live: Live, db: AsyncSession, admin: User, request: pytest.FixtureRequest
) -> AsyncIterator[Pilot]:
    """The admin, signed in, in a fresh browser context; a screenshot is kept when the test fails."""
    pilot = await Pilot.open(browser, live, db, admin, test_name=request.node.name)
    yield pilot
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        await pilot.snap("failure")
    await pilot.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
