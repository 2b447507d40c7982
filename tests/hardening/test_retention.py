"""Retention jobs: old settled rows go in bounded batches; young, pending and open rows stay."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import LoginFailure, Organization, User, UserSession
from qualifica.accounts.retention import purge_ended_sessions, purge_login_failures
from qualifica.assistant.retention import purge_old_events
from qualifica.db import utcnow
from qualifica.observability.models import AnalyticsEvent
from qualifica.observability.retention import purge_delivered_analytics
from qualifica.runtime import Runtime
from qualifica.webhooks.models import WebhookChange, WebhookEvent
from qualifica.webhooks.retention import purge_processed_webhooks
from qualifica.whatsapp.events import AssistantEvent
from qualifica.whatsapp.mail.models import MailKind, MailOutbox, MailStatus
from qualifica.whatsapp.mail.retention import purge_settled_mails
from qualifica.whatsapp.models import (
    AttemptStatus,
    ConnectionStatus,
    EmbeddedSignupAttempt,
    WhatsAppConnection,
)
from qualifica.whatsapp.retention import purge_ended_attempts
from qualifica.worker import JOBS
from tests.support.rows import count

Purge = Callable[..., Awaitable[int]]
NOW = utcnow()


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def login_failure(days: float) -> LoginFailure:
    return LoginFailure(email=f"{uuid.uuid4().hex[:8]}@example.com", created_at=ago(days))


Body = tuple[WebhookEvent, list[WebhookChange]]


def webhook(received: float, processed: float | None, *changes: float | None) -> Body:
    """A body received ``received`` days ago, split ``processed`` days ago, with changes settled then."""
    event = WebhookEvent(
        id=uuid.uuid4(),
        payload="{}",
        sha256=uuid.uuid4().hex * 2,
        received_at=ago(received),
        processed_at=None if processed is None else ago(processed),
        outcome=None if processed is None else "split",
    )
    return event, [
        WebhookChange(
            event_id=event.id,
            position=position,
            field="messages",
            value={"n": position},
            received_at=ago(received),
            processed_at=None if settled is None else ago(settled),
            outcome=None if settled is None else "processed",
        )
        for position, settled in enumerate(changes)
    ]


async def add_webhooks(db: AsyncSession, *bodies: Body) -> None:
    db.add_all([event for event, _ in bodies])
    await db.flush()
    db.add_all([change for _, changes in bodies for change in changes])
    await db.commit()


def analytics(occurred: float, delivered: float | None) -> AnalyticsEvent:
    return AnalyticsEvent(
        name="Embedded Signup Started",
        properties={},
        occurred_at=ago(occurred),
        delivered_at=None if delivered is None else ago(delivered),
    )


def attempt(organization: Organization, status: AttemptStatus, days: float) -> EmbeddedSignupAttempt:
    ended = status not in (AttemptStatus.STARTED, AttemptStatus.PROCESSING, AttemptStatus.PIN_REQUIRED)
    return EmbeddedSignupAttempt(
        id=uuid.uuid4(),
        organization_id=organization.id,
        status=status,
        started_at=ago(days + 0.01),
        finished_at=ago(days) if ended else None,
    )


async def drain(purge: Purge, runtime: Runtime, *, limit: int) -> list[int]:
    rounds: list[int] = []
    while rounds[-1:] != [0]:
        rounds.append(await purge(runtime, now=NOW, limit=limit))
    return rounds


class TestLoginFailures:
    async def test_older_than_a_day_go_younger_stay(self, runtime: Runtime, db: AsyncSession) -> None:
        db.add_all([login_failure(2), login_failure(1.01), login_failure(0.9), login_failure(0.001)])
        await db.commit()

        assert await purge_login_failures(runtime, now=NOW) == 2

        kept = await db.scalars(select(LoginFailure.created_at))
        assert all(created > ago(1) for created in kept)
        assert await count(db, LoginFailure) == 2

    async def test_a_backlog_goes_in_bounded_batches(self, runtime: Runtime, db: AsyncSession) -> None:
        db.add_all([login_failure(3 + n) for n in range(7)] + [login_failure(0.5)])
        await db.commit()

        assert await drain(purge_login_failures, runtime, limit=3) == [3, 3, 1, 0]
        assert await count(db, LoginFailure) == 1

    async def test_several_workers_share_a_backlog(self, runtime: Runtime, db: AsyncSession) -> None:
        db.add_all([login_failure(2 + n / 100) for n in range(40)])
        await db.commit()

        rounds = await asyncio.gather(*(drain(purge_login_failures, runtime, limit=4) for _ in range(3)))

        assert sum(map(sum, rounds)) == 40
        assert await count(db, LoginFailure) == 0

    async def test_zero_days_keeps_them_forever(self, runtime: Runtime, db: AsyncSession) -> None:
        db.add(login_failure(400))
        await db.commit()
        runtime.settings = runtime.settings.model_copy(update={"retention_login_failures_days": 0})

        assert await purge_login_failures(runtime, now=NOW) == 0
        assert await count(db, LoginFailure) == 1


def user_session(user: User, *, expires: float, revoked: float | None = None) -> UserSession:
    """A session that expires (or expired: positive) ``expires`` days ago, maybe revoked."""
    return UserSession(
        user_id=user.id,
        token_digest=uuid.uuid4().hex * 2,
        created_at=ago(expires + 0.5),
        last_seen_at=ago(expires + 0.5),
        expires_at=ago(expires),
        revoked_at=None if revoked is None else ago(revoked),
    )


class TestSessions:
    async def test_sessions_ended_over_30_days_ago_go(
        self, runtime: Runtime, db: AsyncSession, admin_user: User
    ) -> None:
        gone = [user_session(admin_user, expires=31), user_session(admin_user, expires=-1, revoked=40)]
        kept = [
            user_session(admin_user, expires=-0.4),  # live
            user_session(admin_user, expires=29),  # expired lately
            user_session(admin_user, expires=-0.4, revoked=2),  # revoked lately
        ]
        db.add_all([*gone, *kept])
        await db.commit()
        kept_ids = {row.id for row in kept}

        assert await purge_ended_sessions(runtime, now=NOW) == 2
        assert set(await db.scalars(select(UserSession.id))) == kept_ids

    async def test_a_backlog_goes_in_bounded_batches(
        self, runtime: Runtime, db: AsyncSession, admin_user: User
    ) -> None:
        db.add_all([user_session(admin_user, expires=40 + n) for n in range(5)])
        await db.commit()

        assert await drain(purge_ended_sessions, runtime, limit=2) == [2, 2, 1, 0]


class TestWebhooks:
    async def test_settled_bodies_older_than_30_days_go_with_their_changes(
        self, runtime: Runtime, db: AsyncSession
    ) -> None:
        gone = webhook(40, 40, 39, 31)
        unsplit = webhook(60, None)  # never split: not processed
        pending_change = webhook(60, 60, 59, None)
        retried_lately = webhook(60, 60, 59, 2)  # one change settled only two days ago
        young = webhook(10, 10, 10)
        await add_webhooks(db, gone, unsplit, pending_change, retried_lately, young)

        assert await purge_processed_webhooks(runtime, now=NOW) == 1

        kept = set(await db.scalars(select(WebhookEvent.id)))
        assert kept == {body[0].id for body in (unsplit, pending_change, retried_lately, young)}
        assert await count(db, WebhookChange, WebhookChange.event_id == gone[0].id) == 0
        assert await count(db, WebhookChange) == 5

    async def test_a_backlog_goes_in_bounded_batches(self, runtime: Runtime, db: AsyncSession) -> None:
        await add_webhooks(db, *(webhook(50 + n, 50 + n, 50, 49) for n in range(5)), webhook(1, 1, 1))

        assert await drain(purge_processed_webhooks, runtime, limit=2) == [2, 2, 1, 0]
        assert await count(db, WebhookEvent) == 1 and await count(db, WebhookChange) == 1


class TestAnalytics:
    async def test_only_events_delivered_over_90_days_ago_go(
        self, runtime: Runtime, db: AsyncSession
    ) -> None:
        gone = analytics(100, 99)
        kept = [
            analytics(200, None),  # never delivered: the only copy
            analytics(120, 10),  # delivered late, recently
            analytics(30, 30),
        ]
        db.add_all([gone, *kept])
        await db.commit()
        kept_ids = {event.id for event in kept}

        assert await purge_delivered_analytics(runtime, now=NOW) == 1
        assert set(await db.scalars(select(AnalyticsEvent.id))) == kept_ids

    async def test_a_backlog_goes_in_bounded_batches(self, runtime: Runtime, db: AsyncSession) -> None:
        db.add_all([analytics(91 + n, 91 + n) for n in range(5)])
        await db.commit()

        assert await drain(purge_delivered_analytics, runtime, limit=2) == [2, 2, 1, 0]


class TestAttempts:
    async def test_ended_attempts_older_than_180_days_go(
        self, runtime: Runtime, db: AsyncSession, organization: Organization
    ) -> None:
        ended = (AttemptStatus.COMPLETED, AttemptStatus.FAILED, AttemptStatus.CANCELLED)
        gone = [attempt(organization, status, 200) for status in (*ended, AttemptStatus.EXPIRED)]
        still_open = [
            attempt(organization, status, 400)
            for status in (AttemptStatus.STARTED, AttemptStatus.PROCESSING, AttemptStatus.PIN_REQUIRED)
        ]
        young = attempt(organization, AttemptStatus.FAILED, 100)
        named = attempt(organization, AttemptStatus.COMPLETED, 300)
        db.add_all([*gone, *still_open, young, named])
        db.add(
            WhatsAppConnection(
                organization_id=organization.id,
                waba_id="1000",
                phone_number_id="2000",
                status=ConnectionStatus.ACTIVE,
                last_attempt_id=named.id,
            )
        )
        await db.commit()

        assert await purge_ended_attempts(runtime, now=NOW) == len(gone)

        kept = set(await db.scalars(select(EmbeddedSignupAttempt.id)))
        assert kept == {a.id for a in still_open} | {young.id, named.id}

    async def test_a_backlog_goes_in_bounded_batches(
        self, runtime: Runtime, db: AsyncSession, organization: Organization
    ) -> None:
        db.add_all([attempt(organization, AttemptStatus.FAILED, 181 + n) for n in range(5)])
        await db.commit()

        assert await drain(purge_ended_attempts, runtime, limit=3) == [3, 2, 0]


class TestMails:
    async def test_settled_mails_older_than_90_days_go_and_pending_ones_stay(
        self, runtime: Runtime, db: AsyncSession, organization: Organization
    ) -> None:
        connection = WhatsAppConnection(
            organization_id=organization.id,
            waba_id="1001",
            phone_number_id="2001",
            status=ConnectionStatus.ERROR,
        )
        db.add(connection)
        await db.flush()

        def mail(status: MailStatus, days: float) -> MailOutbox:
            return MailOutbox(
                kind=MailKind.DISCONNECTED,
                organization_id=organization.id,
                connection_id=connection.id,
                change_key=uuid.uuid4().hex,
                recipient="ana@example.com",
                status=status,
                created_at=ago(days),
            )

        gone = [mail(MailStatus.SENT, 100), mail(MailStatus.FAILED, 95)]
        kept = [mail(MailStatus.PENDING, 400), mail(MailStatus.SENT, 80)]
        db.add_all([*gone, *kept])
        await db.commit()

        assert await purge_settled_mails(runtime, now=NOW) == 2
        assert set(await db.scalars(select(MailOutbox.id))) == {m.id for m in kept}
        assert await drain(purge_settled_mails, runtime, limit=1) == [0]


class TestEvents:
    async def test_old_events_go_unless_a_push_still_owes_them(
        self, runtime: Runtime, db: AsyncSession, organization: Organization
    ) -> None:
        def event(days: float, pushed: bool) -> AssistantEvent:
            return AssistantEvent(
                id=uuid.uuid4(),
                organization_id=organization.id,
                seq=int(days * 1000) + (1 if pushed else 0),
                type="message.received",
                occurred_at=ago(days),
                created_at=ago(days),
                data={},
                dedupe_key=uuid.uuid4().hex,
                pushed_at=ago(days) if pushed else None,
            )

        old_unpushed, old_pushed, young = event(40, False), event(41, True), event(5, True)
        db.add_all([old_unpushed, old_pushed, young])
        await db.commit()
        assert await purge_old_events(runtime, now=NOW) == 2  # no push configured: old is enough
        assert set(await db.scalars(select(AssistantEvent.id))) == {young.id}


@pytest.mark.parametrize(
    "name",
    [
        "accounts.retention",
        "webhook.retention",
        "analytics.retention",
        "signup.retention",
        "mail.retention",
        "assistant.retention",
    ],
)
def test_the_worker_runs_every_retention_job(name: str) -> None:
    assert name in {job.name for job in JOBS}
