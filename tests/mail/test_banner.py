"""The banner: while the connection is in error, every back-office page says so; admins get the link."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Role
from qualifica.config import Settings
from qualifica.runtime import Runtime
from qualifica.whatsapp.connection_state import mark_active, mark_error
from qualifica.whatsapp.models import WhatsAppConnection
from tests.support.accounts import credentials
from tests.support.connections import make_connection
from tests.support.factories import make_org, make_user

BANNER = "O WhatsApp está desconectado. Reconecte para continuar recebendo leads."
LINK = '<a href="/settings/whatsapp">Reconectar</a>'


@pytest.mark.parametrize("path", ["/", "/settings/whatsapp"])
async def test_the_banner_shows_while_in_error_with_the_link_for_admins_only(
    path: str, client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, runtime: Runtime, settings: Settings
) -> None:
    organization = await make_org(db, "Imobiliária Aurora")
    admin = await make_user(db, organization, role=Role.ADMIN, email="ana@aurora.example")
    member = await make_user(db, organization, role=Role.MEMBER, email="caio@aurora.example")
    await db.commit()
    as_admin, as_member = await credentials(settings, admin), await credentials(settings, member)
    connection = await make_connection(db, app, waba_id="4000000000091", organization=organization)
    connection_id = connection.id

    async def page(cookies: dict[str, str]) -> str:
        client.cookies.clear()
        client.cookies.update(cookies)
        response = await client.get(path)
        assert response.status_code == 200
        return response.text

    assert BANNER not in await page(as_admin.cookies)
    async with runtime.sessionmaker.begin() as session:
        row = await session.get(WhatsAppConnection, connection_id)
        assert row is not None
        await mark_error(session, row, code="app_uninstalled", source="test")
    admin_page, member_page = await page(as_admin.cookies), await page(as_member.cookies)
    assert BANNER in admin_page and LINK in admin_page
    assert BANNER in member_page and LINK not in member_page
    async with runtime.sessionmaker.begin() as session:
        row = await session.get(WhatsAppConnection, connection_id)
        assert row is not None
        await mark_active(session, row, source="test")
    assert BANNER not in await page(as_admin.cookies)
