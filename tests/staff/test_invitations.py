"""Invitations (§17): staff invite → the mail arrives over SMTP → the link sets the password → signed in on
the connection page; the link works once, for 72 hours, and a new invitation replaces the old one."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from qualifica.accounts.invitations import Invitation
from qualifica.accounts.models import Organization, Role, User
from qualifica.cli import app as cli_app
from qualifica.db import utcnow
from qualifica.runtime import Runtime
from qualifica.whatsapp.mail.delivery import deliver_mail
from qualifica.whatsapp.mail.transport import SmtpSink
from tests.support.accounts import sign_in
from tests.support.factories import make_org, make_user
from tests.support.rows import audit_entries
from tests.support.smtp import Inbox, smtp_server

GONE = "Este convite não é mais válido. Peça um novo ao seu gerente de conta."
SUBJECT = "Ative o Qualifica Leads da Imobiliária Aurora"
PASSWORD = "senha-forte-da-ana"
ORIGIN = {"Origin": "http://127.0.0.1:8000"}


@pytest.fixture
async def aurora(db: AsyncSession) -> Organization:
    organization = await make_org(db, "Imobiliária Aurora")
    await db.commit()
    return organization


async def invite(client: httpx.AsyncClient, csrf: str, organization_id: object, email: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/ops/organizations/{organization_id}/invitations",
        json={"email": email},
        headers={"X-CSRF-Token": csrf},
    )


async def mailed_link(runtime: Runtime) -> str:
    """Deliver the outbox to a real SMTP server and read the link out of the one mail it received."""
    inbox = Inbox()
    with smtp_server(inbox) as port:
        assert await deliver_mail(runtime, sink=SmtpSink.from_url(f"smtp://127.0.0.1:{port}")) == 1
    (message,) = inbox.received
    assert message["Subject"] == SUBJECT and message["To"] == "ana@aurora.example"
    text = message.get_body(("plain",))
    assert text is not None
    found = re.search(r"http://\S+/convite/\S+", str(text.get_content()))
    assert found is not None
    return found.group(0)


async def accept(
    client: httpx.AsyncClient, path: str, password: str = PASSWORD, again: str = PASSWORD
) -> httpx.Response:
    return await client.post(path, data={"password": password, "confirmation": again}, headers=ORIGIN)


class TestInvitation:
    async def test_the_invited_admin_sets_a_password_and_lands_signed_in_on_the_connection_page(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        runtime: Runtime,
        staff: User,
        aurora: Organization,
    ) -> None:
        aurora_id = aurora.id
        csrf = await sign_in(client, staff)
        answer = await invite(client, csrf, aurora_id, " Ana@Aurora.example ")
        assert answer.status_code == 201, answer.text
        assert answer.json()["email"] == "ana@aurora.example" and "token" not in answer.text
        link = await mailed_link(runtime)
        path = link.removeprefix(runtime.settings.base_url)
        client.cookies.clear()  # the admin's own browser

        page = await client.get(path)
        assert page.status_code == 200 and "Ative o Qualifica Leads da Imobiliária Aurora" in page.text
        short = await accept(client, path, "curta", "curta")
        assert short.status_code == 422 and "pelo menos 10 caracteres" in short.text
        differ = await accept(client, path, PASSWORD, PASSWORD + "x")
        assert differ.status_code == 422 and "não são iguais" in differ.text

        done = await accept(client, path)
        assert done.status_code == 303 and done.headers["location"] == "/settings/whatsapp"
        settings_page = await client.get("/settings/whatsapp")
        assert settings_page.status_code == 200 and "Conexão WhatsApp" in settings_page.text
        user = await db.scalar(select(User).where(User.email == "ana@aurora.example"))
        assert user is not None and user.role is Role.ADMIN and user.organization_id == aurora_id

        client.cookies.clear()
        again = await client.get(path)
        assert again.status_code == 410 and GONE in again.text
        assert (await accept(client, path)).status_code == 410
        actions = [e.action for e in await audit_entries(db, "invitation.sent")] + [
            e.action for e in await audit_entries(db, "invitation.accepted")
        ]
        assert actions == ["invitation.sent", "invitation.accepted"]

    async def test_an_expired_a_replaced_or_a_forged_link_is_gone(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        runtime: Runtime,
        staff: User,
        aurora: Organization,
    ) -> None:
        aurora_id = aurora.id
        csrf = await sign_in(client, staff)
        assert (await invite(client, csrf, aurora_id, "ana@aurora.example")).status_code == 201
        first = (await mailed_link(runtime)).removeprefix(runtime.settings.base_url)
        assert (await invite(client, csrf, aurora_id, "ana@aurora.example")).status_code == 201
        second = (await mailed_link(runtime)).removeprefix(runtime.settings.base_url)
        client.cookies.clear()
        assert (await client.get(first)).status_code == 410  # replaced by the second
        assert (await client.get(second)).status_code == 200
        assert (await client.get(second[:-3] + "abc")).status_code == 410  # altered
        assert (await client.get("/convite/nada")).status_code == 410

        await db.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
        await db.commit()
        expired = await client.get(second)
        assert expired.status_code == 410 and GONE in expired.text
        assert await db.scalar(select(User).where(User.email == "ana@aurora.example")) is None

    async def test_an_e_mail_of_another_organization_is_refused_and_the_link_stays_usable(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        runtime: Runtime,
        staff: User,
        aurora: Organization,
    ) -> None:
        other = await make_org(db, "Imobiliária Outra")
        await make_user(db, other, role=Role.ADMIN, email="ana@aurora.example")
        await db.commit()
        csrf = await sign_in(client, staff)
        assert (await invite(client, csrf, aurora.id, "ana@aurora.example")).status_code == 201
        path = (await mailed_link(runtime)).removeprefix(runtime.settings.base_url)
        client.cookies.clear()
        refused = await accept(client, path)
        assert refused.status_code == 409 and "outra imobiliária" in refused.text
        assert (await client.get(path)).status_code == 200

    async def test_a_cross_site_post_is_refused(
        self, client: httpx.AsyncClient, runtime: Runtime, staff: User, aurora: Organization
    ) -> None:
        csrf = await sign_in(client, staff)
        assert (await invite(client, csrf, aurora.id, "ana@aurora.example")).status_code == 201
        path = (await mailed_link(runtime)).removeprefix(runtime.settings.base_url)
        client.cookies.clear()
        forged = await client.post(
            path,
            data={"password": PASSWORD, "confirmation": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )
        assert forged.status_code == 403
        assert (await client.get(path)).status_code == 200


class TestWhoMayInvite:
    @pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
    async def test_people_of_an_organization_cannot_invite_nor_see_the_staff_pages(
        self, client: httpx.AsyncClient, db: AsyncSession, aurora: Organization, role: Role
    ) -> None:
        user = await make_user(db, aurora, role=role)
        await db.commit()
        csrf = await sign_in(client, user)
        assert (await invite(client, csrf, aurora.id, "eve@example.com")).status_code == 403
        html = {"Accept": "text/html"}
        assert (await client.get("/ops/organizations", headers=html)).status_code == 403
        assert (await client.get(f"/ops/organizations/{aurora.id}", headers=html)).status_code == 403
        form = await client.post(
            f"/ops/organizations/{aurora.id}/invitations",
            data={"csrf_token": csrf, "email": "eve@example.com"},
        )
        assert form.status_code == 403
        assert await db.scalar(select(Invitation)) is None

    async def test_a_bad_e_mail_is_a_422_and_an_unknown_organization_a_404(
        self, client: httpx.AsyncClient, db: AsyncSession, staff: User, aurora: Organization
    ) -> None:
        csrf = await sign_in(client, staff)
        bad = await invite(client, csrf, aurora.id, "não é e-mail")
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_email"
        unknown = await invite(client, csrf, "00000000-0000-0000-0000-000000000000", "ana@aurora.example")
        assert unknown.status_code == 404
        assert await db.scalar(select(Invitation)) is None


async def test_the_cli_invites_and_prints_the_link_last(
    db: AsyncSession,
    runtime: Runtime,
    aurora: Organization,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = runtime.settings
    monkeypatch.setenv("QUALIFICA_DATABASE_URL", database_url)
    monkeypatch.setenv("QUALIFICA_SECRET_KEY", settings.require_secret_key())
    monkeypatch.setenv("QUALIFICA_ENCRYPTION_KEYS", settings.encryption_keys.get_secret_value())  # type: ignore[union-attr]
    args = ["org", "invite", "--org", str(aurora.id), "--email", "ana@aurora.example"]
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, args)
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link.startswith(f"{settings.base_url}/convite/")
    assert await mailed_link(runtime) == link
