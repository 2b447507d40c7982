from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.db import utcnow
from qualifica.observability import delivery
from qualifica.observability.analytics import EventName, emit
from qualifica.observability.delivery import RETRY, SegmentSink, deliver_analytics, deliver_pending
from qualifica.observability.models import AnalyticsEvent
from qualifica.runtime import Runtime
from tests.support.segment import Receiver, segment_receiver

WRITE_KEY = "segment-write-key-for-tests"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with segment_receiver() as running:
        yield running


async def completed_event(db: AsyncSession, user: User) -> AnalyticsEvent:
    event = await emit(
        db,
        EventName.SIGNUP_COMPLETED,
        organization_id=user.organization_id,
        user_id=user.id,
        properties={
            "waba_id": "102290129340398",
            "has_existing_number": True,
            "time_to_complete_seconds": 41.5,
        },
    )
    await db.commit()
    return event


class TestSegmentSink:
    async def test_a_failed_delivery_is_retried_after_its_backoff_with_the_same_message_id(
        self, app: FastAPI, db: AsyncSession, admin_user: User, receiver: Receiver
    ) -> None:
        event = await completed_event(db, admin_user)
        sink, sessionmaker = SegmentSink(WRITE_KEY, host=receiver.url), app.state.sessionmaker
        receiver.fail_next = 1

        assert await deliver_pending(sessionmaker, sink) == 0
        await db.refresh(event)
        assert event.delivered_at is None and event.delivery_attempts == 1
        assert event.delivery_error is not None and "503" in event.delivery_error
        assert event.next_attempt_at is not None and event.next_attempt_at > utcnow()
        assert await deliver_pending(sessionmaker, sink) == 0  # backing off: nothing sent
        assert len(receiver.requests) == 1

        assert await deliver_pending(sessionmaker, sink, now=utcnow() + timedelta(minutes=1)) == 1
        await db.refresh(event)
        assert (
            event.delivered_at is not None and event.delivery_attempts == 2 and event.delivery_error is None
        )
        assert (
            await deliver_pending(sessionmaker, sink, now=utcnow() + timedelta(hours=2)) == 0
        )  # delivered once

        first, second = receiver.messages
        assert first["messageId"] == second["messageId"] == str(event.id)  # Segment deduplicates on it
        assert second["type"] == "track" and second["event"] == "Embedded Signup Completed"
        assert second["userId"] == str(admin_user.id)
        assert second["context"]["groupId"] == str(admin_user.organization_id)
        assert second["properties"] == event.properties
        request = receiver.requests[-1]
        assert request.path == "/v1/batch"
        assert request.authorization == "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()

    async def test_an_event_that_keeps_failing_stops_after_the_last_attempt(
        self, app: FastAPI, db: AsyncSession, admin_user: User, receiver: Receiver
    ) -> None:
        event = await completed_event(db, admin_user)
        await db.execute(
            AnalyticsEvent.__table__.update().values(delivery_attempts=RETRY.max_attempts)  # type: ignore[attr-defined]
        )
        await db.commit()
        assert await deliver_pending(app.state.sessionmaker, SegmentSink(WRITE_KEY, host=receiver.url)) == 0
        assert receiver.requests == []
        assert (
            await db.scalar(select(AnalyticsEvent.delivered_at).where(AnalyticsEvent.id == event.id))
        ) is None

    async def test_the_worker_job_delivers_only_when_a_write_key_is_set(
        self,
        app: FastAPI,
        db: AsyncSession,
        admin_user: User,
        receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await completed_event(db, admin_user)
        runtime: Runtime = app.state.runtime
        assert await deliver_analytics(runtime) == 0  # no key: the table is the only sink
        monkeypatch.setattr(delivery, "SEGMENT_HOST", receiver.url)
        monkeypatch.setattr(
            runtime,
            "settings",
            runtime.settings.model_copy(update={"segment_write_key": SecretStr(WRITE_KEY)}),
        )
        assert await deliver_analytics(runtime) == 1
        assert [message["event"] for message in receiver.messages] == ["Embedded Signup Completed"]
