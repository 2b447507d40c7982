"""``/ops/rollout`` (§17): the pilots against the PRD's 80 % bar over 7 days, and the phase, audited."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.db import utcnow
from qualifica.flags import WHATSAPP_EMBEDDED_SIGNUP, FeatureFlag
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt
from tests.support.accounts import sign_in
from tests.support.factories import make_org, make_user
from tests.support.rows import audit_entries

HTML = {"Accept": "text/html"}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def attempts(
    organization: Organization, completed: int, failed: int, days_ago: float = 1
) -> list[EmbeddedSignupAttempt]:
    started = utcnow() - timedelta(days=days_ago)
    return [
        EmbeddedSignupAttempt(
            organization_id=organization.id,
            status=status,
            started_at=started,
            finished_at=started,
        )
        for status in [AttemptStatus.COMPLETED] * completed + [AttemptStatus.FAILED] * failed
    ]


async def pilot(db: AsyncSession, name: str) -> Organization:
    organization = await make_org(db, name)
    db.add(FeatureFlag(key=WHATSAPP_EMBEDDED_SIGNUP, organization_id=organization.id, enabled=True))
    return organization


async def test_two_pilots_against_the_bar_and_the_overall_rate(
    client: httpx.AsyncClient, db: AsyncSession, staff: User
) -> None:
    good, poor = await pilot(db, "Imobiliária Boa"), await pilot(db, "Imobiliária Fraca")
    outside = await make_org(db, "Imobiliária Fora")  # no override: not a pilot
    db.add_all(attempts(good, 9, 1) + attempts(poor, 2, 2) + attempts(outside, 0, 5))
    db.add_all(attempts(poor, 0, 20, days_ago=9))  # older than the 7 days: not counted
    await db.commit()
    await sign_in(client, staff)
    page = await client.get("/ops/rollout", headers=HTML)
    assert page.status_code == 200
    body = text(page.text)
    assert "Imobiliária Boa 10 9 90,0 % atingida" in body
    assert "Imobiliária Fraca 4 2 50,0 % abaixo" in body
    assert "Todos os pilotos 14 11 78,6 % abaixo" in body
    assert "Imobiliária Fora" not in body
    assert "Fase atual: Homologação interna" in body
    assert "só impede novas conexões" in body


async def test_advancing_the_phase_is_recorded_and_audited(
    client: httpx.AsyncClient, db: AsyncSession, staff: User
) -> None:
    csrf = await sign_in(client, staff)
    moved = await client.post("/ops/rollout", data={"csrf_token": csrf, "phase": "pilots"})
    assert moved.status_code == 303 and moved.headers["location"] == "/ops/rollout?mudou=1"
    assert "Fase atual: Pilotos" in text((await client.get("/ops/rollout", headers=HTML)).text)
    again = await client.post("/ops/rollout", data={"csrf_token": csrf, "phase": "pilots"})
    assert again.status_code == 303
    (entry,) = await audit_entries(db, "rollout.phase_changed")
    assert entry.details == {"from": "staging", "to": "pilots"}
    assert (
        await client.post("/ops/rollout", data={"csrf_token": "x", "phase": "general"})
    ).status_code == 403
    assert (await client.post("/ops/rollout", data={"csrf_token": csrf, "phase": "mars"})).status_code == 303
    assert len(await audit_entries(db, "rollout.phase_changed")) == 1


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
async def test_people_of_an_organization_are_refused(
    client: httpx.AsyncClient, db: AsyncSession, organization: Organization, role: Role
) -> None:
    user = await make_user(db, organization, role=role)
    await db.commit()
    csrf = await sign_in(client, user)
    assert (await client.get("/ops/rollout", headers=HTML)).status_code == 403
    assert (
        await client.post("/ops/rollout", data={"csrf_token": csrf, "phase": "general"})
    ).status_code == 403
    assert await audit_entries(db, "rollout.phase_changed") == []
