"""The PRD's rollout, made visible (ARCHITECTURE §17): the pilots, their 7-day success rate beside the 80 %
bar, and the phase staff record as they advance (internal staging → pilots → monitoring week → 100 %).

Pilots are the organizations with the flag switched on for them alone (an override). A success rate is
completed / started signup attempts started in the last 7 days. The phase is a history of rows; the newest
is the current one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Index, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from qualifica.accounts.models import Organization
from qualifica.audit import record
from qualifica.db import Base, UUIDPk, str_enum, utcnow
from qualifica.flags import WHATSAPP_EMBEDDED_SIGNUP, FeatureFlag
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt

BAR = 0.80  # the PRD: "taxa de sucesso > 80 %" before going wider
WINDOW = timedelta(days=7)


class Phase(StrEnum):
    STAGING = "staging"
    PILOTS = "pilots"
    MONITORING = "monitoring"
    GENERAL = "general"


LABELS = {
    Phase.STAGING: "Homologação interna",
    Phase.PILOTS: "Pilotos",
    Phase.MONITORING: "Semana de monitoramento",
    Phase.GENERAL: "100 % das imobiliárias",
}


class RolloutPhase(UUIDPk, Base):
    __tablename__ = "rollout_phases"
    __table_args__ = (Index("ix_rollout_phases_changed_at", "changed_at"),)

    phase: Mapped[Phase] = mapped_column(str_enum(Phase, "rollout_phase"))
    changed_by: Mapped[str] = mapped_column(String(320))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class Pilot:
    organization_id: uuid.UUID
    name: str
    started: int
    completed: int

    @property
    def rate(self) -> float | None:
        return self.completed / self.started if self.started else None

    @property
    def meets_bar(self) -> bool | None:
        return None if self.rate is None else self.rate >= BAR


async def pilots(session: AsyncSession, *, now: datetime) -> list[Pilot]:
    overrides = select(FeatureFlag.organization_id).where(
        FeatureFlag.key == WHATSAPP_EMBEDDED_SIGNUP,
        FeatureFlag.organization_id.is_not(None),
        FeatureFlag.enabled.is_(True),
    )
    attempt = EmbeddedSignupAttempt
    counts = (
        select(
            attempt.organization_id,
            func.count().label("started"),
            func.count().filter(attempt.status == AttemptStatus.COMPLETED).label("completed"),
        )
        .where(attempt.started_at >= now - WINDOW, attempt.organization_id.in_(overrides))
        .group_by(attempt.organization_id)
        .subquery()
    )
    rows = await session.execute(
        select(Organization.id, Organization.name, counts.c.started, counts.c.completed)
        .outerjoin(counts, counts.c.organization_id == Organization.id)
        .where(Organization.id.in_(overrides))
        .order_by(Organization.name)
    )
    return [Pilot(row.id, row.name, row.started or 0, row.completed or 0) for row in rows]


def overall(found: list[Pilot]) -> Pilot:
    """The pilots together (completed / started over all of them)."""
    return Pilot(
        uuid.UUID(int=0), "Todos os pilotos", sum(p.started for p in found), sum(p.completed for p in found)
    )


async def current_phase(session: AsyncSession) -> RolloutPhase | None:
    return await session.scalar(select(RolloutPhase).order_by(RolloutPhase.changed_at.desc()).limit(1))


async def set_phase(
    session: AsyncSession, phase: Phase, *, changed_by: str, actor_user_id: uuid.UUID | None
) -> bool:
    """Record the new phase (audited ``rollout.phase_changed``); False when it is already the current one."""
    current = await current_phase(session)
    before = current.phase if current is not None else Phase.STAGING
    if current is not None and current.phase is phase:
        return False
    session.add(RolloutPhase(phase=phase, changed_by=changed_by[:320], changed_at=utcnow()))
    await session.flush()
    await record(
        session,
        organization_id=None,
        action="rollout.phase_changed",
        status="success",
        actor_user_id=actor_user_id,
        details={"from": before.value, "to": phase.value},
    )
    return True
