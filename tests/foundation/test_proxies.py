"""QUALIFICA_TRUSTED_PROXIES (ARCHITECTURE §13): forwarded headers are believed only from trusted proxies."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import LoginFailure, Organization, User
from qualifica.config import Settings
from tests.support.accounts import sign_in
from tests.support.apps import app_with
from tests.support.connections import make_connection
from tests.support.rows import audit_entries

PEER = "10.1.2.3"  # the direct peer of every request below (the balancer, when trusted)
# The client wrote the left-most value itself; the balancer appended what it saw (the right-most untrusted).
FORWARDED = {"X-Forwarded-For": "198.51.100.66, 203.0.113.7", "X-Forwarded-Proto": "https"}


async def disconnect_audit_ip(app: FastAPI, db: AsyncSession, admin: User) -> str | None:
    """Disconnect through the API from behind ``PEER`` with forwarded headers; the audit row's IP."""
    organization = await db.get_one(Organization, admin.organization_id)
    await make_connection(db, app, waba_id="waba-proxy", organization=organization)
    transport = httpx.ASGITransport(app=app, client=(PEER, 443))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        csrf = await sign_in(http, admin)
        headers = {"X-CSRF-Token": csrf, **FORWARDED}
        response = await http.post("/api/v1/whatsapp/connection/disconnect", json={}, headers=headers)
    assert response.status_code == 200, response.text
    [entry] = await audit_entries(db, "whatsapp.disconnect")
    return entry.ip_address


class TestForwardedHeaders:
    async def test_by_default_a_spoofed_forwarded_for_is_ignored(
        self, settings: Settings, db: AsyncSession, admin_user: User
    ) -> None:
        async with app_with(settings) as app:
            assert await disconnect_audit_ip(app, db, admin_user) == PEER

    async def test_from_an_untrusted_peer_it_is_ignored(
        self, settings: Settings, db: AsyncSession, admin_user: User
    ) -> None:
        async with app_with(settings, trusted_proxies=["192.168.0.0/16"]) as app:
            assert await disconnect_audit_ip(app, db, admin_user) == PEER

    async def test_from_a_trusted_proxy_the_audit_gets_the_client(
        self, settings: Settings, db: AsyncSession, admin_user: User
    ) -> None:
        async with app_with(settings, trusted_proxies=["10.0.0.0/8"]) as app:
            assert await disconnect_audit_ip(app, db, admin_user) == "203.0.113.7"

    async def test_the_login_throttle_counts_the_forwarded_client(
        self, settings: Settings, db: AsyncSession
    ) -> None:
        async with app_with(settings, trusted_proxies=[PEER]) as app:
            transport = httpx.ASGITransport(app=app, client=(PEER, 443))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                body = {"email": "ninguem@example.com", "password": "x"}
                response = await http.post("/api/v1/auth/login", json=body, headers=FORWARDED)
        assert response.status_code == 401
        assert (await db.scalars(select(LoginFailure.ip_address))).all() == ["203.0.113.7"]


class TestSetting:
    def test_a_comma_separated_list_of_ips_and_networks(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("QUALIFICA_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.10,fd00::/8")
        assert Settings(_env_file=None).trusted_proxies == ["10.0.0.0/8", "192.168.1.10", "fd00::/8"]
        monkeypatch.delenv("QUALIFICA_TRUSTED_PROXIES")
        assert Settings(_env_file=None).trusted_proxies == []

    @pytest.mark.parametrize("value", ["balancer.internal", "10.0.0.0/33", "*"])
    def test_anything_else_is_refused(self, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
        monkeypatch.setenv("QUALIFICA_TRUSTED_PROXIES", value)
        with pytest.raises(ValidationError, match="not an IP address or CIDR network"):
            Settings(_env_file=None)
