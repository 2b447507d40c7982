from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.flags import WHATSAPP_EMBEDDED_SIGNUP, FeatureFlag
from qualifica.meta.sandbox import Sandbox
from tests.support.accounts import sign_in
from tests.support.factories import make_user
from tests.support.rows import audit_entries
from tests.support.signup import make_history

HTML = {"Accept": "text/html"}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class TestAccess:
    async def test_anonymous_is_sent_to_login(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/ops", headers=HTML)
        assert response.status_code == 303 and response.headers["location"] == "/login"

    @pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
    async def test_users_of_an_organization_are_refused(
        self, client: httpx.AsyncClient, db: AsyncSession, organization: Organization, role: Role
    ) -> None:
        user = await make_user(db, organization, role=role)
        await db.commit()
        csrf = await sign_in(client, user)
        assert (await client.get("/ops", headers=HTML)).status_code == 403
        response = await client.post("/ops/flags", data={"csrf_token": csrf, "action": "global_off"})
        assert response.status_code == 403
        assert await db.scalar(select(FeatureFlag)) is None


class TestOpsPage:
    async def test_funnel_attempts_and_events_come_from_the_database(
        self, client: httpx.AsyncClient, staff: User, admin_user: User, sandbox: Sandbox
    ) -> None:
        await make_history(client, admin_user, sandbox)
        await sign_in(client, staff)
        response = await client.get("/ops", headers=HTML)
        assert response.status_code == 200
        page = text(response.text)
        assert "Taxa de sucesso, 24 h 33,3 % 1 de 3" in page
        assert "Iniciadas → concluídas 3 → 1 (33,3 %)" in page
        assert "Canceladas por etapa phone: 1" in page
        assert "Erros por código 100: 1" in page
        assert "Conexões ativas 1" in page
        for name in ("Embedded Signup Started", "Embedded Signup Completed", "Embedded Signup Cancelled",
                     "Embedded Signup Failed"):  # fmt: skip
            assert name in page
        assert "&#34;step_cancelled&#34;: &#34;phone&#34;" in response.text  # properties shown, escaped
        assert "token_exchange" in page and "completed" in page  # recent attempts with step and status
        assert response.text.count("<svg") >= 6
        assert "<script" not in response.text and "style=" not in response.text  # CSP: no inline code

    async def test_staff_toggles_the_flag_and_the_change_is_audited(
        self, client: httpx.AsyncClient, staff: User, organization: Organization, db: AsyncSession
    ) -> None:
        csrf = await sign_in(client, staff)
        refused = await client.post("/ops/flags", data={"csrf_token": "forged", "action": "global_off"})
        assert refused.status_code == 403

        off = await client.post("/ops/flags", data={"csrf_token": csrf, "action": "global_off"})
        assert off.status_code == 303 and off.headers["location"] == "/ops?changed=1#flag"
        pilot = {"csrf_token": csrf, "action": "org_on", "organization_id": str(organization.id)}
        assert (await client.post("/ops/flags", data=pilot)).status_code == 303
        bad = await client.post(
            "/ops/flags", data={"csrf_token": csrf, "action": "percent_set", "percent": "150"}
        )
        assert bad.headers["location"] == "/ops?error=flag#flag"

        rows = (
            await db.scalars(select(FeatureFlag).order_by(FeatureFlag.organization_id.is_not(None)))
        ).all()
        assert [(r.key, r.organization_id, r.enabled, r.updated_by) for r in rows] == [
            (WHATSAPP_EMBEDDED_SIGNUP, None, False, staff.email),
            (WHATSAPP_EMBEDDED_SIGNUP, organization.id, True, staff.email),
        ]
        audit = await audit_entries(db, "feature_flag.changed")
        assert [(entry.actor_user_id, entry.details["change"]) for entry in audit if entry.details] == [
            (staff.id, "off"), (staff.id, "on"),
        ]  # fmt: skip
        page = text((await client.get("/ops", headers=HTML)).text)
        assert "Ligada para 1 de 2 organizações" in page
