"""Fixtures for the Meta client and sandbox tests: a live sandbox on a real socket, stamina in test mode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from qualifica.meta.client import GraphClient
from tests.support.meta import APP_ID, APP_SECRET
from tests.support.sandbox import LiveSandbox


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def graph(live_sandbox: LiveSandbox, http: httpx.AsyncClient) -> GraphClient:
    return GraphClient(
        http, graph_url=live_sandbox.url, version="v25.0", app_id=APP_ID, app_secret=APP_SECRET
    )
