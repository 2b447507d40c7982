"""The reliability suite (marker ``reliability``, ``make reliability``): PostgreSQL only, logs kept.

Every test here is marked ``reliability`` (``make test`` leaves them out). Every log line of the run —
pytest's own (rendered exactly as production renders it) and the subprocesses' — is written under
``var/reliability/logs``, and every secret the run creates is collected in ``MINTED`` for ``test_zz_leaks``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.leaks import secrets_in_requests
from qualifica.config import Settings
from qualifica.meta.sandbox import Sandbox
from tests.support.databases import truncate_postgres
from tests.support.leaks import MINTED, PYTEST_LOG
from tests.support.logs import production_logs
from tests.support.processes import LOG_DIR


def _wanted(config: pytest.Config) -> bool:
    """Run only when asked: ``-m reliability`` or a path inside ``tests/reliability`` on the command line."""
    expression = str(config.getoption("markexpr") or "")
    if "reliability" in expression and "not reliability" not in expression:
        return True
    here = Path(__file__).parent.resolve()
    return any(
        here == target or here in target.parents
        for arg in config.args
        for target in [Path(arg.split("::")[0]).resolve()]
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this directory's tests ``reliability``; leave them out of every other run (``make test``,
    ``pytest tests -m "not e2e"``): they take minutes and have their own CI step."""
    here = Path(__file__).parent
    mine = [item for item in items if here in Path(str(item.fspath)).parents]
    for item in mine:
        item.add_marker(pytest.mark.reliability)
    if mine and not _wanted(config):
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]


@pytest.fixture(params=["postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """PostgreSQL only: these are the production claims (several processes on one database)."""
    url: str = request.getfixturevalue("_postgres_url")
    try:
        yield url
    finally:
        truncate_postgres(url)


@pytest.fixture(scope="session", autouse=True)
def reliability_log() -> Iterator[Path]:
    """Every log record of the test process, rendered by the production formatter, into one file."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for old in LOG_DIR.glob("*.log"):
        old.unlink()
    with production_logs(logging.FileHandler(PYTEST_LOG, encoding="utf-8")):
        yield PYTEST_LOG


@pytest.fixture(autouse=True)
def collect_secrets(settings: Settings, sandbox: Sandbox) -> Iterator[None]:
    """After each test: the keys it ran with, and every code, token and PIN Meta (the sandbox) handed out."""
    yield
    MINTED[settings.require_secret_key()] = "secret_key"
    if settings.encryption_keys:
        for pair in settings.encryption_keys.get_secret_value().split(","):
            MINTED[pair.split(":", 1)[1]] = "encryption_key"
    with sandbox.lock:
        MINTED.update(dict.fromkeys(sandbox.world.codes, "code"))
        MINTED.update(dict.fromkeys(sandbox.world.tokens, "token"))
        requests = [r.__dict__ for r in sandbox.scenario.requests]
    MINTED.update(secrets_in_requests(requests))
