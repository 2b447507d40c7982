from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.meta.sandbox import Sandbox
from tests.support.assistant import Assistant, connected_assistant


@pytest.fixture
async def assistant(db: AsyncSession, app: FastAPI, sandbox: Sandbox) -> Assistant:
    sandbox.set_message_statuses([])  # statuses are driven by the tests themselves
    return await connected_assistant(db, app, sandbox)
