"""The numbers of the ops page, read from the database (so they are right after any restart).

The funnel comes from the analytics events themselves — the same events Segment receives — which is what
makes this page the place to verify analytics in staging.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization
from qualifica.observability.analytics import EventName
from qualifica.observability.models import AnalyticsEvent
from qualifica.whatsapp.models import ConnectionStatus, EmbeddedSignupAttempt, WhatsAppConnection

LOCAL = ZoneInfo("America/Sao_Paulo")
FUNNEL = (
    EventName.SIGNUP_STARTED,
    EventName.SIGNUP_COMPLETED,
    EventName.SIGNUP_CANCELLED,
    EventName.SIGNUP_FAILED,
)
MAX_EVENTS = 50_000  # a week of funnel events is far below this; past it the page says it sampled


@dataclass
class Funnel:
    started: int = 0
    completed: int = 0
    cancelled: int = 0
    failed: int = 0
    cancelled_by_step: list[tuple[str, int]] = field(default_factory=list)
    failed_by_code: list[tuple[str, int]] = field(default_factory=list)
    p50_seconds: float | None = None
    p95_seconds: float | None = None

    @property
    def success_rate(self) -> float | None:
        return self.completed / self.started if self.started else None


@dataclass(frozen=True)
class Day:
    day: date
    started: int
    completed: int


@dataclass(frozen=True)
class FunnelEvent:
    name: str
    occurred_at: datetime
    properties: dict[str, Any]


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (the median is ``fraction`` 0.5)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def funnel(events: Sequence[FunnelEvent], since: datetime) -> Funnel:
    window = [event for event in events if event.occurred_at >= since]
    names = Counter(event.name for event in window)
    steps = Counter(
        str(e.properties.get("step_cancelled")) for e in window if e.name == EventName.SIGNUP_CANCELLED
    )
    codes = Counter(str(e.properties.get("error_code")) for e in window if e.name == EventName.SIGNUP_FAILED)
    seconds = [
        float(e.properties["time_to_complete_seconds"])
        for e in window
        if e.name == EventName.SIGNUP_COMPLETED and "time_to_complete_seconds" in e.properties
    ]
    return Funnel(
        started=names[EventName.SIGNUP_STARTED],
        completed=names[EventName.SIGNUP_COMPLETED],
        cancelled=names[EventName.SIGNUP_CANCELLED],
        failed=names[EventName.SIGNUP_FAILED],
        cancelled_by_step=steps.most_common(),
        failed_by_code=codes.most_common(),
        p50_seconds=percentile(seconds, 0.5),
        p95_seconds=percentile(seconds, 0.95),
    )


def daily(events: Sequence[FunnelEvent], *, today: date, days: int = 7) -> list[Day]:
    """Started and completed per local (São Paulo) day, oldest first, empty days included."""
    started: Counter[date] = Counter()
    completed: Counter[date] = Counter()
    for event in events:
        day = event.occurred_at.astimezone(LOCAL).date()
        if event.name == EventName.SIGNUP_STARTED:
            started[day] += 1
        elif event.name == EventName.SIGNUP_COMPLETED:
            completed[day] += 1
    span = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    return [Day(day, started[day], completed[day]) for day in span]


async def funnel_events(session: AsyncSession, *, since: datetime) -> list[FunnelEvent]:
    rows = await session.execute(
        select(AnalyticsEvent.name, AnalyticsEvent.occurred_at, AnalyticsEvent.properties)
        .where(AnalyticsEvent.occurred_at >= since, AnalyticsEvent.name.in_([name.value for name in FUNNEL]))
        .order_by(AnalyticsEvent.occurred_at.desc())
        .limit(MAX_EVENTS)
    )
    return [FunnelEvent(row.name, row.occurred_at, row.properties or {}) for row in rows]


@dataclass(frozen=True)
class RecentAttempt:
    id: uuid.UUID
    organization: str
    status: str
    step: str
    error_code: str | None
    error_message: str | None
    step_failed: str | None
    step_cancelled: str | None
    started_at: datetime
    finished_at: datetime | None


async def recent_attempts(session: AsyncSession, *, limit: int = 15) -> list[RecentAttempt]:
    attempt = EmbeddedSignupAttempt
    rows = await session.execute(
        select(attempt, Organization.name)
        .join(Organization, Organization.id == attempt.organization_id)
        .order_by(attempt.started_at.desc())
        .limit(limit)
    )
    return [
        RecentAttempt(
            row.id,
            name,
            row.status.value,
            row.step,
            row.error_code,
            row.error_message,
            row.step_failed,
            row.step_cancelled,
            row.started_at,
            row.finished_at,
        )
        for row, name in rows
    ]


@dataclass(frozen=True)
class RecentEvent:
    name: str
    organization: str | None
    properties: dict[str, Any]
    occurred_at: datetime
    delivered_at: datetime | None
    delivery_attempts: int
    delivery_error: str | None


async def recent_events(session: AsyncSession, *, limit: int = 20) -> list[RecentEvent]:
    rows = await session.execute(
        select(AnalyticsEvent, Organization.name)
        .outerjoin(Organization, Organization.id == AnalyticsEvent.organization_id)
        .order_by(AnalyticsEvent.occurred_at.desc())
        .limit(limit)
    )
    return [
        RecentEvent(
            event.name,
            name,
            event.properties,
            event.occurred_at,
            event.delivered_at,
            event.delivery_attempts,
            event.delivery_error,
        )
        for event, name in rows
    ]


async def organizations(session: AsyncSession) -> list[tuple[uuid.UUID, str]]:
    rows = await session.execute(select(Organization.id, Organization.name).order_by(Organization.name))
    return [(row.id, row.name) for row in rows]


@dataclass(frozen=True)
class LiveConnection:
    """A connection that is not disconnected, with when a webhook about it last arrived."""

    organization: str | None
    display_phone_number: str | None
    status: str
    last_webhook_at: datetime | None
    last_health_check_at: datetime | None


async def live_connections(session: AsyncSession, *, limit: int = 50) -> list[LiveConnection]:
    rows = await session.execute(
        select(WhatsAppConnection, Organization.name)
        .outerjoin(Organization, Organization.id == WhatsAppConnection.organization_id)
        .where(WhatsAppConnection.status != ConnectionStatus.DISCONNECTED)
        .order_by(WhatsAppConnection.last_webhook_at.desc().nulls_last())
        .limit(limit)
    )
    return [
        LiveConnection(
            name,
            connection.display_phone_number,
            connection.status.value,
            connection.last_webhook_at,
            connection.last_health_check_at,
        )
        for connection, name in rows.all()
    ]
