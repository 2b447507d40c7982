"""§13: the demo's and development's secret files under ``./var`` are owner-only (0600)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.cli.main import DEMO_CREDENTIALS, _seed_demo
from qualifica.config import Settings
from qualifica.devsecrets import with_dev_secrets


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: the files must be private by themselves, not by the shell's umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("open_umask")
class TestDevSecrets:
    def test_a_new_file_is_owner_only(self, tmp_path: Path) -> None:
        path = tmp_path / "var" / "dev-secrets.json"
        with_dev_secrets(Settings(_env_file=None), path=path)
        assert mode(path) == 0o600

    def test_an_existing_readable_file_is_tightened_and_kept(self, tmp_path: Path) -> None:
        path = tmp_path / "dev-secrets.json"
        first = with_dev_secrets(Settings(_env_file=None), path=path)
        path.chmod(0o644)
        again = with_dev_secrets(Settings(_env_file=None), path=path)
        assert mode(path) == 0o600
        assert again.secret_key == first.secret_key  # the same keys: nothing regenerated

    def test_a_rewritten_file_is_tightened(self, tmp_path: Path) -> None:
        path = tmp_path / "dev-secrets.json"
        path.write_text(json.dumps({"secret_key": "k" * 48}))  # incomplete: rewritten
        path.chmod(0o666)
        with_dev_secrets(Settings(_env_file=None), path=path)
        assert mode(path) == 0o600
        assert json.loads(path.read_text())["secret_key"] == "k" * 48


@pytest.mark.usefixtures("open_umask")
class TestDemoCredentials:
    async def test_written_owner_only(
        self, db: AsyncSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        email, password = await _seed_demo(db)
        await db.commit()
        assert mode(tmp_path / DEMO_CREDENTIALS) == 0o600
        assert json.loads((tmp_path / DEMO_CREDENTIALS).read_text()) == {"email": email, "password": password}

    async def test_an_existing_world_readable_file_is_tightened(
        self, db: AsyncSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "var").mkdir()
        stored = {"email": "a@demo.test", "password": "p-123456789"}
        (tmp_path / DEMO_CREDENTIALS).write_text(json.dumps(stored))
        (tmp_path / DEMO_CREDENTIALS).chmod(0o644)
        assert await _seed_demo(db) == ("a@demo.test", "p-123456789")
        await db.commit()
        assert mode(tmp_path / DEMO_CREDENTIALS) == 0o600
