"""The organization's profile (§17): the admin fills it (API and /settings/empresa), members read it, and the
signup's start answer prefills Meta's form with exactly what was filled in."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from tests.support.accounts import sign_in
from tests.support.factories import make_user
from tests.support.rows import audit_entries

ORG = "/api/v1/organization"
FILLED = {
    "email": "Contato@Horizonte.com.br",
    "phone": "+55 (11) 98765-4321",
    "website": "https://horizonte.com.br",
    "street_address1": "Av. Paulista, 1000",
    "city": "São Paulo",
    "state": "SP",
    "zip_postal": "01310-100",
    "country": "br",
    "time_zone": "America/Sao_Paulo",
}


async def patch(client: httpx.AsyncClient, csrf: str, body: dict[str, str]) -> httpx.Response:
    return await client.patch(ORG, json=body, headers={"X-CSRF-Token": csrf})


async def start_extras(client: httpx.AsyncClient, csrf: str) -> dict[str, object]:
    answer = await client.post("/api/v1/whatsapp/embedded-signup/start", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    extras: dict[str, object] = answer.json()["extras"]
    return extras


class TestApi:
    async def test_the_admin_fills_the_profile_partially_and_clears_a_field(
        self, client: httpx.AsyncClient, db: AsyncSession, admin_user: User, organization: Organization
    ) -> None:
        organization_id = organization.id
        csrf = await sign_in(client, admin_user)
        answer = await patch(client, csrf, FILLED)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["email"] == "contato@horizonte.com.br" and body["phone"] == "+5511987654321"
        assert body["country"] == "BR" and body["name"] == "Imobiliária Horizonte"
        cleared = (await patch(client, csrf, {"website": ""})).json()
        assert cleared["website"] is None and cleared["city"] == "São Paulo"
        (first, second) = await audit_entries(db, "organization.profile_updated")
        assert first.organization_id == organization_id and "contato" not in str(first.details)
        assert (second.details or {})["fields"] == ["website"]

    async def test_every_wrong_field_is_named_and_nothing_is_saved(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        csrf = await sign_in(client, admin_user)
        wrong = {"email": "sem-arroba", "phone": "11 98765", "website": "horizonte", "country": "Brasil",
                 "time_zone": "Brasil/Lugar", "name": " "}  # fmt: skip
        answer = await patch(client, csrf, wrong)
        assert answer.status_code == 422
        error = answer.json()["error"]
        assert error["code"] == "invalid_profile"
        assert {item["field"] for item in error["fields"]} == set(wrong)
        assert all(item["reason"] for item in error["fields"])
        assert (await client.get(ORG)).json()["email"] is None
        unknown = await patch(client, csrf, {"cnpj": "123"})
        assert unknown.status_code == 422

    async def test_a_member_reads_but_cannot_change(
        self, client: httpx.AsyncClient, db: AsyncSession, organization: Organization
    ) -> None:
        member = await make_user(db, organization, role=Role.MEMBER)
        await db.commit()
        csrf = await sign_in(client, member)
        assert (await client.get(ORG)).status_code == 200
        assert (await patch(client, csrf, {"city": "Santos"})).status_code == 403
        page = await client.get("/settings/empresa")
        assert (
            page.status_code == 200
            and "Somente administradores" in page.text
            and "profile-form" not in page.text
        )
        form = await client.post("/settings/empresa", data={"csrf_token": csrf, "name": "X"})
        assert form.status_code == 403


class TestPrefill:
    async def test_an_empty_profile_sends_no_business_prefill(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        csrf = await sign_in(client, admin_user)
        assert await start_extras(client, csrf) == {"setup": {}}

    async def test_a_filled_profile_prefills_exactly_what_it_holds_in_metas_shape(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        csrf = await sign_in(client, admin_user)
        assert (
            await patch(client, csrf, {"email": "contato@horizonte.com.br", "city": "Campinas"})
        ).status_code == 200
        assert await start_extras(client, csrf) == {
            "setup": {
                "business": {
                    "name": "Imobiliária Horizonte",
                    "email": "contato@horizonte.com.br",
                    "address": {"city": "Campinas"},
                }
            }
        }
        assert (await patch(client, csrf, FILLED)).status_code == 200
        business = (await start_extras(client, csrf))["setup"]["business"]  # type: ignore[index]
        assert business == {
            "name": "Imobiliária Horizonte",
            "email": "contato@horizonte.com.br",
            "phone": {"code": 55, "number": "11987654321"},
            "website": "https://horizonte.com.br",
            "address": {
                "streetAddress1": "Av. Paulista, 1000",
                "city": "São Paulo",
                "state": "SP",
                "zipPostal": "01310-100",
                "country": "BR",
            },
            "timezone": "UTC-03:00",
        }


class TestPage:
    async def test_the_admin_saves_the_form_and_sees_each_problem_beside_its_field(
        self, client: httpx.AsyncClient, admin_user: User
    ) -> None:
        csrf = await sign_in(client, admin_user)
        page = await client.get("/settings/empresa")
        assert page.status_code == 200 and 'name="csrf_token"' in page.text
        form = {"csrf_token": csrf, "name": "Imobiliária Horizonte", "email": "x", "city": "Santos"}
        wrong = await client.post("/settings/empresa", data=form)
        assert wrong.status_code == 422
        assert re.search(r'id="profile-email"[^>]*aria-invalid="true"', wrong.text.replace("\n", " "))
        assert 'id="profile-email-error"' in wrong.text and 'value="Santos"' in wrong.text
        assert (await client.get(ORG)).json()["city"] is None  # nothing saved
        saved = await client.post("/settings/empresa", data=form | {"email": "contato@horizonte.com.br"})
        assert saved.status_code == 303 and saved.headers["location"] == "/settings/empresa?salvo=1"
        assert (await client.get(ORG)).json()["city"] == "Santos"
        assert (await client.post("/settings/empresa", data=form | {"csrf_token": "x"})).status_code == 403
