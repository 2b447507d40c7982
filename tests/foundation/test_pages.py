from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.db import utcnow
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection
from tests.support.accounts import sign_in

HTML = {"accept": "text/html"}


class TestPages:
    async def test_pages_redirect_anonymous_visitors_to_login(self, client: httpx.AsyncClient) -> None:
        for path in ("/", "/settings/whatsapp"):
            response = await client.get(path, headers=HTML)
            assert response.status_code == 303
            assert response.headers["location"] == "/login"

    async def test_login_page_has_the_contract_fields(self, client: httpx.AsyncClient) -> None:
        page = (await client.get("/login", headers=HTML)).text
        assert ">E-mail</label>" in page and ">Senha</label>" in page and ">Entrar</button>" in page
        assert '<html lang="pt-BR">' in page

    async def test_form_login_redirects_home_and_shows_the_checklist(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        from tests.support.factories import PASSWORD

        response = await client.post(
            "/login", data={"email": admin_user.email, "password": PASSWORD}, headers=HTML
        )
        assert response.status_code == 303 and response.headers["location"] == "/"
        home = await client.get("/", headers=HTML)
        assert 'href="/settings/whatsapp">Conectar WhatsApp</a>' in home.text
        assert "Pendente" in home.text
        assert "Conexão WhatsApp" in home.text  # the menu Configurações › Conexão WhatsApp

    async def test_form_login_failure_is_shown_in_portuguese(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        response = await client.post(
            "/login", data={"email": admin_user.email, "password": "errada"}, headers=HTML
        )
        assert response.status_code == 401
        assert "E-mail ou senha incorretos." in response.text

    async def test_checklist_item_is_done_when_connected(
        self, client: httpx.AsyncClient, admin_user: User, db: AsyncSession
    ) -> None:
        db.add(
            WhatsAppConnection(
                organization_id=admin_user.organization_id,
                waba_id="1",
                phone_number_id="2",
                display_phone_number="+55 11 98888-7777",
                status=ConnectionStatus.ACTIVE,
                connected_at=utcnow(),
            )
        )
        await db.commit()
        await sign_in(client, admin_user)
        home = await client.get("/", headers=HTML)
        assert 'class="done"' in home.text and "Concluído" in home.text
        settings_page = await client.get("/settings/whatsapp", headers=HTML)
        assert "WhatsApp conectado" in settings_page.text and "+55 11 98888-7777" in settings_page.text

    async def test_page_view_refreshes_the_csrf_cookie(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        csrf = await sign_in(client, admin_user)
        client.cookies.delete("qualifica_csrf")
        response = await client.get("/", headers=HTML)
        assert response.cookies["qualifica_csrf"] == csrf

    async def test_logout_form_needs_the_csrf_token(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        csrf = await sign_in(client, admin_user)
        refused = await client.post("/logout", data={"csrf_token": "wrong"}, headers=HTML)
        assert refused.status_code == 403
        assert "Recarregue a página" in refused.text
        response = await client.post("/logout", data={"csrf_token": csrf}, headers=HTML)
        assert response.status_code == 303
        assert (await client.get("/", headers=HTML)).headers["location"] == "/login"


class TestSecurityHeaders:
    async def test_strict_csp_and_popup_friendly_opener_policy(self, client: httpx.AsyncClient) -> None:
        headers = (await client.get("/login", headers=HTML)).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self' https://connect.facebook.net;" in csp
        assert "'unsafe-inline'" not in csp
        assert "frame-src 'self' https://web.facebook.com https://www.facebook.com" in csp
        assert "connect-src 'self'" in csp
        assert headers["cross-origin-opener-policy"] == "same-origin-allow-popups"
        assert headers["x-content-type-options"] == "nosniff"

    async def test_no_page_has_an_inline_script(self, client: httpx.AsyncClient) -> None:
        page = (await client.get("/login", headers=HTML)).text
        assert "<script>" not in page and "onclick=" not in page and "style=" not in page


class TestHealth:
    async def test_liveness_and_readiness(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).json() == {"status": "ok", "database": "ok"}

    async def test_openapi_is_published(self, client: httpx.AsyncClient) -> None:
        schema = (await client.get("/openapi.json")).json()
        assert "/api/v1/auth/login" in schema["paths"]
        assert (await client.get("/docs")).status_code == 200
