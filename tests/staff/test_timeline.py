"""``/ops/organizations`` and one organization's timeline (§17): what happened, newest first, with the hint
to tell the customer; nothing of another organization."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.meta.sandbox import Sandbox
from qualifica.runtime import Runtime
from qualifica.webhooks.processing import process_webhooks
from qualifica.whatsapp.catalogue import GRAPH_ERRORS
from qualifica.whatsapp.models import WhatsAppConnection
from tests.support.accounts import sign_in
from tests.support.factories import make_org, make_user
from tests.support.signup import Browser, make_history
from tests.support.webhooks import account_entry, envelope, post_signed

HTML = {"Accept": "text/html"}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def titles(html: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", t).strip() for t in re.findall(r'<span class="timeline-title">(.*?)</span>', html)
    ]


async def test_the_timeline_shows_a_cancel_a_meta_error_with_its_hint_a_success_and_a_webhook_in_order(
    client: httpx.AsyncClient,
    db: AsyncSession,
    runtime: Runtime,
    sandbox: Sandbox,
    staff: User,
    admin_user: User,
    organization: Organization,
) -> None:
    org_id, admin_email = organization.id, admin_user.email
    other = await make_org(db, "Imobiliária Vizinha")
    neighbour = await make_user(db, other, role=Role.ADMIN, email="vizinha@example.com")
    await db.commit()
    theirs = Browser(client, await sign_in(client, neighbour))  # the other organization's own story
    assert (await theirs.cancel("PERMISSIONS")).status_code == 204
    client.cookies.clear()
    await make_history(client, admin_user, sandbox)
    connection = await db.scalar(
        select(WhatsAppConnection).where(WhatsAppConnection.organization_id == org_id)
    )
    assert connection is not None
    await post_signed(client, envelope(account_entry("ACCOUNT_UPDATE", connection.waba_id)))
    await process_webhooks(runtime)
    client.cookies.clear()
    await sign_in(client, staff)

    page = await client.get(f"/ops/organizations/{org_id}", headers=HTML)
    assert page.status_code == 200
    shown = titles(page.text)
    # newest first: the webhook, then the success, the failure, the cancel (each attempt after its start)
    webhook = shown.index("Aviso da Meta: account_update · ACCOUNT_UPDATE")
    completed, failed, cancelled = (
        shown.index(t) for t in ("Conexão concluída", "Falhou", "Cancelada pelo administrador")
    )
    assert webhook < completed < failed < cancelled
    assert shown.count("Conexão iniciada") == 3
    body = text(page.text)
    assert (
        "meta_error na etapa token_exchange: Não foi possível conectar. Erro: (#100) Invalid parameter"
        in body
    )
    assert f"O que dizer ao cliente: {GRAPH_ERRORS[(100, None)].hint}" in body
    assert f"por {admin_email}" in body and "na etapa phone" in body
    assert "vizinha@example.com" not in page.text and str(other.id) not in page.text

    listing = text((await client.get("/ops/organizations", headers=HTML, params={"q": "vizin"})).text)
    assert "Imobiliária Vizinha" in listing and "Imobiliária Horizonte" not in listing
    connected = text((await client.get("/ops/organizations", headers=HTML, params={"status": "active"})).text)
    assert "Conectado" in connected and "Conexão concluída" in connected
    none = text(
        (await client.get("/ops/organizations", headers=HTML, params={"status": "not_connected"})).text
    )
    assert "Imobiliária Vizinha" in none and "Imobiliária Horizonte" not in none


async def test_an_unknown_organization_is_a_404(client: httpx.AsyncClient, staff: User) -> None:
    await sign_in(client, staff)
    response = await client.get("/ops/organizations/00000000-0000-0000-0000-000000000000", headers=HTML)
    assert response.status_code == 404
