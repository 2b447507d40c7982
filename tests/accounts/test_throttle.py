"""Login throttling (ARCHITECTURE §13): 5 failures per e-mail and ``LOGIN_IP_LIMIT`` per client IP in 5
minutes, kept in the database and reserved before the password is verified, so racing tries cannot pass."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import LoginFailure, User
from qualifica.app import create_app
from qualifica.config import Settings
from qualifica.security import passwords
from tests.support.apps import app_with
from tests.support.factories import PASSWORD
from tests.support.live import serve_in_thread

LOGIN = "/api/v1/auth/login"


class Verifications:
    """Counts real password verifications, each made slow enough for every racer to be in flight."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, seconds: float = 0.05) -> None:
        self.count = 0
        self._lock = threading.Lock()
        real = passwords.verify_password_sync

        def counting(password_hash: str | None, password: str) -> bool:
            with self._lock:
                self.count += 1
            time.sleep(seconds)
            return real(password_hash, password)

        monkeypatch.setattr(passwords, "verify_password_sync", counting)


class TestPerEmail:
    async def test_thirty_parallel_wrong_passwords_get_at_most_five_verifications(
        self, settings: Settings, admin_user: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        verifications = Verifications(monkeypatch)
        with serve_in_thread(create_app(settings, configure_logs=False)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                body = {"email": admin_user.email, "password": "chute-errado"}
                answers = await asyncio.gather(*(http.post(LOGIN, json=body) for _ in range(30)))
        statuses = [answer.status_code for answer in answers]
        assert set(statuses) <= {401, 429}, statuses
        assert verifications.count <= 5, statuses
        assert statuses.count(401) == verifications.count
        assert statuses.count(429) >= 25
        for answer in answers:
            if answer.status_code == 429:
                assert answer.json()["error"]["code"] == "too_many_attempts"
                assert 1 <= int(answer.headers["retry-after"]) <= 300

    async def test_the_right_password_is_refused_too_once_throttled(
        self, client: httpx.AsyncClient, admin_user: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        verifications = Verifications(monkeypatch, seconds=0)
        for _ in range(5):
            await client.post(LOGIN, json={"email": admin_user.email, "password": "errada"})
        response = await client.post(LOGIN, json={"email": admin_user.email, "password": PASSWORD})
        assert response.status_code == 429
        assert verifications.count == 5  # the sixth try never reached argon2


class TestPerIP:
    async def test_failures_across_emails_from_one_ip_are_limited(
        self, settings: Settings, admin_user: User, db: AsyncSession
    ) -> None:
        async with app_with(settings, login_ip_limit=3) as app:
            near = httpx.ASGITransport(app=app, client=("198.51.100.7", 4000))
            far = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
            async with httpx.AsyncClient(transport=near, base_url="http://t") as attacker:
                for n in range(3):
                    wrong = {"email": f"alvo{n}@example.com", "password": "x"}
                    assert (await attacker.post(LOGIN, json=wrong)).status_code == 401
                fourth = await attacker.post(LOGIN, json={"email": "alvo9@example.com", "password": "x"})
                right = await attacker.post(LOGIN, json={"email": admin_user.email, "password": PASSWORD})
            async with httpx.AsyncClient(transport=far, base_url="http://t") as someone_else:
                mine = {"email": admin_user.email, "password": PASSWORD}
                elsewhere = await someone_else.post(LOGIN, json=mine)
        for refused in (fourth, right):
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "too_many_attempts"
            assert 1 <= int(refused.headers["retry-after"]) <= 300
        assert elsewhere.status_code == 200
        ips = (await db.scalars(select(LoginFailure.ip_address))).all()
        assert list(ips) == ["198.51.100.7"] * 3

    def test_the_limit_is_a_setting(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("QUALIFICA_LOGIN_IP_LIMIT", "250")
        assert Settings(_env_file=None).login_ip_limit == 250
        assert Settings(_env_file=None, login_ip_limit=100).login_ip_limit == 100
        monkeypatch.delenv("QUALIFICA_LOGIN_IP_LIMIT")
        assert Settings(_env_file=None).login_ip_limit == 100
