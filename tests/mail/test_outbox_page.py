"""``/_sandbox/mail``: in demo mode every mail is listed and shown as sent; without the sandbox, no page."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from qualifica.accounts.models import Role
from qualifica.config import Settings
from qualifica.whatsapp.connection_state import mark_error
from qualifica.whatsapp.mail.delivery import deliver_mail
from qualifica.whatsapp.models import WhatsAppConnection
from tests.support.apps import app_with
from tests.support.connections import make_connection
from tests.support.factories import make_org, make_user

SUBJECT = "Ação necessária: o WhatsApp da Imobiliária Aurora &amp; Filhos está desconectado"


@pytest.fixture
async def demo(settings: Settings) -> AsyncIterator[FastAPI]:
    async with app_with(settings, sandbox=True) as application:
        yield application


async def fall(app: FastAPI) -> None:
    """Aurora's connection falls into error: one mail for its admin, none for its member."""
    async with app.state.sessionmaker() as db:
        organization = await make_org(db, "Imobiliária Aurora & Filhos")
        await make_user(db, organization, role=Role.ADMIN, email="ana@aurora.example")
        await make_user(db, organization, role=Role.MEMBER, email="caio@aurora.example")
        await db.commit()
        connection = await make_connection(db, app, waba_id="4000000000095", organization=organization)
    async with app.state.sessionmaker.begin() as session:
        row = await session.get(WhatsAppConnection, connection.id)
        assert row is not None
        await mark_error(session, row, code="app_uninstalled", source="test")


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        return await http.get(path)


async def test_the_outbox_lists_each_mail_and_shows_it_as_the_admin_reads_it(demo: FastAPI) -> None:
    empty = await get(demo, "/_sandbox/mail")
    assert empty.status_code == 200 and 'data-testid="mail-empty"' in empty.text
    await fall(demo)
    page = await get(demo, "/_sandbox/mail")
    assert page.text.count('data-testid="mail-row"') == 1
    assert SUBJECT in page.text and "ana@aurora.example" in page.text and "caio@" not in page.text
    assert "Na fila" in page.text

    assert await deliver_mail(demo.state.runtime) == 1
    page = await get(demo, "/_sandbox/mail")
    assert "Enviado" in page.text
    mail_id = page.text.split('href="/_sandbox/mail/', 1)[1].split('"', 1)[0]
    view = await get(demo, f"/_sandbox/mail/{mail_id}")
    assert view.status_code == 200 and SUBJECT in view.text
    assert "http://127.0.0.1:8000/settings/whatsapp" in view.text  # the text part
    assert f'src="/_sandbox/mail/{mail_id}/html"' in view.text

    html = await get(demo, f"/_sandbox/mail/{mail_id}/html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert 'href="http://127.0.0.1:8000/settings/whatsapp"' in html.text
    assert "Imobiliária Aurora &amp; Filhos" in html.text  # escaped, as in the sent mail
    policy = html.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert html.headers["x-frame-options"] == "SAMEORIGIN"


async def test_an_unknown_mail_is_not_found(demo: FastAPI) -> None:
    assert (await get(demo, f"/_sandbox/mail/{uuid.uuid4()}")).status_code == 404
    assert (await get(demo, f"/_sandbox/mail/{uuid.uuid4()}/html")).status_code == 404


async def test_without_the_sandbox_there_is_no_outbox_page(app: FastAPI) -> None:
    await fall(app)
    assert (await get(app, "/_sandbox/mail")).status_code == 404
