"""Every webhook test talks to Graph (when it does) through the live sandbox."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from qualifica.config import Settings
from qualifica.whatsapp.runtime import SignupRuntime
from tests.support.sandbox import LiveSandbox


@pytest.fixture
def settings(settings: Settings, live_sandbox: LiveSandbox) -> Settings:
    return settings.model_copy(update={"meta_graph_url": live_sandbox.url})


@pytest.fixture
def runtime(app: FastAPI) -> SignupRuntime:
    runtime: SignupRuntime = app.state.signup
    return runtime
