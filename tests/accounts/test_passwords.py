"""argon2 runs in worker threads (ARCHITECTURE §13): logins never stall the event loop, and at most
``MAX_CONCURRENT_HASHES`` hashes run at once."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from fastapi import FastAPI

from qualifica.accounts.models import User
from qualifica.security import passwords

# A verification made as slow as a loaded machine's, and a gap the loop must never come near while it runs.
SLOW_VERIFY = 0.5
MAX_LOOP_GAP = 0.25


class SlowHashes:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.running = self.most = 0
        self.started = asyncio.Event()
        self._lock = threading.Lock()
        loop = asyncio.get_running_loop()
        real = passwords.verify_password_sync

        def slow(password_hash: str | None, password: str) -> bool:
            with self._lock:
                self.running += 1
                self.most = max(self.most, self.running)
            loop.call_soon_threadsafe(self.started.set)
            try:
                time.sleep(SLOW_VERIFY)  # holds no GIL, like argon2's C code
                return real(password_hash, password)
            finally:
                with self._lock:
                    self.running -= 1

        monkeypatch.setattr(passwords, "verify_password_sync", slow)


async def ten_logins(app: FastAPI, user: User) -> list[int]:
    """Ten wrong passwords from ten clients, to ten e-mails (so the e-mail throttle lets them all try)."""

    async def one(n: int) -> int:
        transport = httpx.ASGITransport(app=app, client=(f"192.0.2.{n}", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            body = {"email": f"{n}.{user.email}" if n else user.email, "password": "errada"}
            return (await http.post("/api/v1/auth/login", json=body)).status_code

    return list(await asyncio.gather(*(one(n) for n in range(10))))


class TestOffTheLoop:
    async def test_the_loop_keeps_serving_while_ten_logins_hash(
        self, app: FastAPI, client: httpx.AsyncClient, admin_user: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        hashes = SlowHashes(monkeypatch)
        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            last = time.monotonic()
            while not done.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        async def probe() -> float:
            await hashes.started.wait()
            started = time.monotonic()
            assert (await client.get("/healthz")).status_code == 200
            return time.monotonic() - started

        ticking = asyncio.create_task(ticker())
        logins = asyncio.create_task(ten_logins(app, admin_user))
        health_seconds = await probe()
        statuses = await logins
        done.set()
        await ticking
        assert statuses == [401] * 10
        assert health_seconds < MAX_LOOP_GAP, "a health check waited for a password hash"
        assert max(gaps) < MAX_LOOP_GAP, f"the event loop stalled {max(gaps):.2f} s"

    async def test_a_login_holds_no_database_connection_while_it_hashes(
        self, app: FastAPI, client: httpx.AsyncClient, admin_user: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Logins queued behind the hash pool would otherwise drain the connection pool for everyone."""
        pool = app.state.engine.pool
        held: list[int] = []
        real = passwords.verify_password_sync

        def observed(password_hash: str | None, password: str) -> bool:
            held.append(pool.checkedout())
            return real(password_hash, password)

        monkeypatch.setattr(passwords, "verify_password_sync", observed)
        assert (
            await client.post("/api/v1/auth/login", json={"email": admin_user.email, "password": "x"})
        ).status_code == 401
        assert (
            await client.post("/api/v1/auth/login", json={"email": "ninguem@example.com", "password": "x"})
        ).status_code == 401
        assert held == [0, 0]

    async def test_at_most_a_few_hashes_run_at_once(
        self, app: FastAPI, admin_user: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        hashes = SlowHashes(monkeypatch)
        assert await ten_logins(app, admin_user) == [401] * 10
        assert 2 <= hashes.most <= passwords.MAX_CONCURRENT_HASHES
