"""The worker side: split batches, route, apply once, retry failures, survive restarts and rivals."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.app import create_app
from qualifica.config import Settings
from qualifica.db import utcnow
from qualifica.observability.webhook_metrics import WebhookOutcome
from qualifica.runtime import Runtime
from qualifica.webhooks import handlers, processing
from qualifica.webhooks.models import WebhookChange, WebhookEvent
from qualifica.webhooks.processing import claim_due, process_webhooks
from qualifica.webhooks.routing import Context
from qualifica.whatsapp.models import ConnectionStatus
from tests.support.connections import make_connection, reload
from tests.support.metrics import metric
from tests.support.rows import count, status_audits
from tests.support.webhooks import account_entry, envelope, post_signed

EVENTS = "qualifica_webhook_events_total"


async def changes(db: AsyncSession) -> list[WebhookChange]:
    query = select(WebhookChange).order_by(WebhookChange.position)
    return list((await db.scalars(query.execution_options(populate_existing=True))).all())


class TestSplitAndRoute:
    async def test_a_batched_body_is_split_into_its_changes_and_each_routed(
        self, client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, runtime: Runtime
    ) -> None:
        first = await make_connection(db, app, waba_id="4000000000001", display="5511940001111")
        second = await make_connection(db, app, waba_id="4000000000002", display="5511940002222")
        quality = {"display_phone_number": "5511940002222", "event": "FLAGGED", "current_limit": "TIER_1K"}
        body = envelope(
            account_entry("PARTNER_REMOVED", "4000000000001"),
            {
                "id": "4000000000002",
                "time": 1748477359,
                "changes": [
                    {"field": "phone_number_quality_update", "value": quality},
                    {"field": "account_review_update", "value": {"decision": "APPROVED"}},
                ],
            },
            account_entry("ACCOUNT_VIOLATION", "4999999999999", violation_info={"violation_type": "ADULT"}),
        )
        assert (await post_signed(client, body)).status_code == 200
        await process_webhooks(runtime)
        rows = await changes(db)
        assert [(c.position, c.field, c.waba_id, c.outcome) for c in rows] == [
            (0, "account_update", "4000000000001", "processed"),
            (1, "phone_number_quality_update", "4000000000002", "processed"),
            (2, "account_review_update", "4000000000002", "processed"),
            (3, "account_update", "4999999999999", "unmatched"),
        ]
        assert [c.organization_id for c in rows[:3]] == [first.organization_id] + [second.organization_id] * 2
        assert (await reload(db, first)).status is ConnectionStatus.ERROR
        second = await reload(db, second)
        assert second.status is ConnectionStatus.ACTIVE
        assert second.messaging_limit == "TIER_1K"
        assert [w["code"] for w in second.health_warnings or []] == ["quality_flagged"]
        event = await db.scalar(select(WebhookEvent).execution_options(populate_existing=True))
        assert event is not None and (event.outcome, event.field, event.waba_id) == ("split", "mixed", None)

    async def test_a_duplicate_delivery_is_processed_once(
        self, client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, runtime: Runtime
    ) -> None:
        connection = await make_connection(db, app, waba_id="4000000000001")
        body = envelope(account_entry("PARTNER_APP_UNINSTALLED", "4000000000001"))
        for _ in range(3):
            await post_signed(client, body)
            await process_webhooks(runtime)
        assert len(await changes(db)) == 1
        assert len(await status_audits(db, connection)) == 1

    async def test_an_unknown_waba_is_kept_marked_unmatched_and_counted(
        self, client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime
    ) -> None:
        before = metric(EVENTS, field="account_update", outcome="unmatched")
        response = await post_signed(
            client, envelope(account_entry("PARTNER_APP_UNINSTALLED", "4123412341234"))
        )
        assert response.status_code == 200
        await process_webhooks(runtime)
        (change,) = await changes(db)
        assert (change.outcome, change.organization_id, change.processed_at is not None) == (
            "unmatched",
            None,
            True,
        )
        assert metric(EVENTS, field="account_update", outcome="unmatched") == before + 1

    async def test_messages_are_kept_for_the_assistant_whatever_the_status(
        self, client: httpx.AsyncClient, db: AsyncSession, app: FastAPI, runtime: Runtime
    ) -> None:
        connection = await make_connection(
            db, app, waba_id="4000000000003", status=ConnectionStatus.DISCONNECTED
        )
        value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1000001"}, "messages": []}
        body = envelope({"id": "4000000000003", "changes": [{"field": "messages", "value": value}]})
        await post_signed(client, body)
        await process_webhooks(runtime)
        (change,) = await changes(db)
        assert (change.outcome, change.organization_id) == ("processed", connection.organization_id)
        assert change.value == value


class TestFailures:
    async def test_a_failed_change_is_retried_with_backoff_then_processed(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        app: FastAPI,
        runtime: Runtime,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        connection = await make_connection(db, app, waba_id="4000000000001")
        real = handlers.HANDLERS["account_update"]
        calls = 0

        async def flaky(context: Context) -> WebhookOutcome:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("database hiccup")
            return await real(context)

        monkeypatch.setitem(handlers.HANDLERS, "account_update", flaky)
        before = metric(EVENTS, field="account_update", outcome="failed")
        await post_signed(client, envelope(account_entry("ACCOUNT_DELETED", "4000000000001")))
        await process_webhooks(runtime)
        (change,) = await changes(db)
        assert (change.outcome, change.attempts, change.processed_at) == ("retry", 1, None)
        assert change.error == "RuntimeError: database hiccup"
        assert change.next_attempt_at is not None and change.next_attempt_at > utcnow()
        assert metric(EVENTS, field="account_update", outcome="failed") == before + 1
        assert (
            await reload(db, connection)
        ).status is ConnectionStatus.ACTIVE  # rolled back with the failure
        await process_webhooks(runtime)  # not due yet
        assert calls == 1
        await process_webhooks(runtime, now=utcnow() + processing.RETRY.delay(1) + timedelta(seconds=1))
        (change,) = await changes(db)
        assert (change.outcome, change.attempts, change.error) == ("processed", 2, None)
        assert (await reload(db, connection)).error_code == "account_deleted"

    async def test_after_max_attempts_a_change_is_settled_failed_and_kept(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        runtime: Runtime,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        async def broken(context: Context) -> WebhookOutcome:
            raise ValueError("always")

        monkeypatch.setitem(handlers.HANDLERS, "account_update", broken)
        await post_signed(client, envelope(account_entry("ACCOUNT_DELETED", "4000000000001")))
        later = utcnow()
        for _ in range(processing.RETRY.max_attempts + 2):
            await process_webhooks(runtime, now=later)
            later += processing.RETRY.max_delay + timedelta(seconds=1)
        (change,) = await changes(db)
        assert (change.outcome, change.attempts) == ("failed", processing.RETRY.max_attempts)
        assert change.processed_at is not None and change.error == "ValueError: always"


class TestLeases:
    async def test_two_workers_never_process_the_same_change(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        app: FastAPI,
        runtime: Runtime,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        seen: list[Any] = []

        async def counting(context: Context) -> WebhookOutcome:
            seen.append(context.change.id)
            await asyncio.sleep(0.01)
            return WebhookOutcome.PROCESSED

        monkeypatch.setitem(handlers.HANDLERS, "account_update", counting)
        for index in range(12):
            await post_signed(
                client, envelope(account_entry("MM_LITE_TERMS_SIGNED", f"40000000000{index:02d}"))
            )
        rival = Runtime(
            settings=runtime.settings,
            sessionmaker=runtime.sessionmaker,
            graph=runtime.graph,
            ring=runtime.ring,
            signer=runtime.signer,
        )
        await asyncio.gather(process_webhooks(runtime), process_webhooks(rival), process_webhooks(runtime))
        assert len(seen) == len(set(seen)) == 12
        assert await count(db, WebhookChange, WebhookChange.outcome == "processed") == 12

    async def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_settle(
        self, client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime
    ) -> None:
        await post_signed(client, envelope(account_entry("MM_LITE_TERMS_SIGNED", "4000000000001")))
        await processing.split_pending(runtime)
        crashed = Runtime(
            settings=runtime.settings,
            sessionmaker=runtime.sessionmaker,
            graph=runtime.graph,
            ring=runtime.ring,
            signer=runtime.signer,
        )
        first = await claim_due(crashed)
        (change_id,) = first.ids
        assert (await claim_due(runtime)).ids == []  # held
        later = utcnow() + processing.RETRY.lease + timedelta(seconds=1)
        second = await claim_due(runtime, now=later)
        assert second.ids == [change_id]
        lost = await processing.handle(crashed, change_id, holder=first.holder)
        assert lost is WebhookOutcome.FAILED  # lease lost: no write
        assert await processing.handle(runtime, change_id, holder=second.holder) is WebhookOutcome.UNMATCHED
        (change,) = await changes(db)
        assert (change.outcome, change.attempts) == ("unmatched", 2)

    async def test_a_worker_restart_loses_no_stored_event(self, settings: Settings, db: AsyncSession) -> None:
        bodies = [envelope(account_entry("MM_LITE_TERMS_SIGNED", f"41000000000{i:02d}")) for i in range(5)]
        first = create_app(settings, configure_logs=False, embedded_worker=False)
        async with first.router.lifespan_context(first):
            transport = httpx.ASGITransport(app=first)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                for body in bodies:
                    assert (await post_signed(http, body)).status_code == 200
            runtime: Runtime = first.state.runtime
            await processing.split_pending(runtime, limit=2)
            await claim_due(runtime)  # leased, then the process "dies" holding them
        await db.execute(update(WebhookChange).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        await db.commit()
        second = create_app(settings, configure_logs=False, embedded_worker=True)
        async with second.router.lifespan_context(second):
            for _ in range(100):
                if await count(db, WebhookChange, WebhookChange.processed_at.is_not(None)) == len(bodies):
                    break
                await asyncio.sleep(0.05)
        assert await count(db, WebhookChange, WebhookChange.outcome == "unmatched") == len(bodies)
        assert await count(db, WebhookEvent, WebhookEvent.processed_at.is_(None)) == 0
        assert {c.value["event"] for c in await changes(db)} == {"MM_LITE_TERMS_SIGNED"}
