"""Helpers of the reliability suite: cheap signed-in clients, processes with logged output, secrets minted."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.config import Settings
from qualifica.security.passwords import hash_password
from qualifica.security.sessions import CSRF_COOKIE, SESSION_COOKIE, SessionCodec
from tests.support.factories import PASSWORD

LOG_DIR = Path(__file__).resolve().parents[2] / "var" / "reliability" / "logs"
_HASH: list[str] = []


def password_hash() -> str:
    """One argon2 hash for every user the suite creates (hashing 200 times would cost a minute)."""
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    return _HASH[0]


async def add_user(
    session: AsyncSession, *, role: Role = Role.ADMIN, organization: Organization | None = None
) -> User:
    if organization is None:
        organization = Organization(id=uuid.uuid4(), name=f"Imobiliária {uuid.uuid4().hex[:6]}")
        session.add(organization)
    user = User(
        id=uuid.uuid4(),
        organization_id=organization.id,
        email=f"{role.value}-{uuid.uuid4().hex[:10]}@example.com",
        role=role,
        password_hash=password_hash(),
    )
    session.add(user)
    await session.flush()
    return user


@dataclass(frozen=True)
class Credentials:
    cookies: dict[str, str]
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}


def credentials(secret_key: str, user: User) -> Credentials:
    """The cookies a login would set, made with the service's own codec (no argon2 per user)."""
    codec = SessionCodec(secret_key)
    cookie, data = codec.new_session(user.id)
    csrf = codec.csrf_token(data)
    return Credentials({SESSION_COOKIE: cookie, CSRF_COOKIE: csrf}, csrf)


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIFICA_")}
    env.update(
        QUALIFICA_DATABASE_URL=settings.database_url,
        QUALIFICA_SECRET_KEY=settings.require_secret_key(),
        QUALIFICA_ENCRYPTION_KEYS=settings.encryption_keys.get_secret_value()
        if settings.encryption_keys
        else "",
        QUALIFICA_META_GRAPH_URL=settings.meta_graph_url,
        QUALIFICA_META_APP_ID=settings.meta_app_id,
        QUALIFICA_META_APP_SECRET=settings.meta_app_secret.get_secret_value(),
        QUALIFICA_META_CONFIG_ID=settings.meta_config_id,
        QUALIFICA_META_WEBHOOK_VERIFY_TOKEN=settings.meta_webhook_verify_token.get_secret_value(),
    )
    env.update({f"QUALIFICA_{k.upper()}": v for k, v in extra.items()})
    return env


class Process:
    """A ``qualifica`` subprocess whose stdout and stderr go to a file under ``var/reliability/logs``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name, self.args, self.env, self.cwd = name, args, env, cwd
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log = LOG_DIR / f"{name}-{os.getpid()}-{uuid.uuid4().hex[:6]}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, ready_url: str | None = None) -> None:
        with self.log.open("ab") as output:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "qualifica.cli", *self.args],
                env=self.env,
                cwd=self.cwd,
                stdout=output,
                stderr=output,
            )
        if ready_url:
            wait_ready(ready_url, self.popen)

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_ready(url: str, popen: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert popen.poll() is None, f"{url}: the process exited ({popen.returncode})"
        assert time.monotonic() < deadline, f"{url} did not become ready"
        time.sleep(0.1)


@contextmanager
def processes(*items: Process) -> Iterator[tuple[Process, ...]]:
    try:
        yield items
    finally:
        for item in items:
            item.stop()
