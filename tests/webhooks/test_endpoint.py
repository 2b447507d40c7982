"""The webhook endpoint: handshake, signature, size limit, durable and deduplicated storage."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.config import WEBHOOK_PATH
from qualifica.meta.signature import sign
from qualifica.middleware import WEBHOOK_BODY_LIMIT
from qualifica.webhooks.models import WebhookEvent
from tests.support.meta import APP_SECRET, VERIFY_TOKEN
from tests.support.metrics import metric
from tests.support.rows import count
from tests.support.webhooks import account_entry, envelope, post_signed, signed

BODY = envelope(account_entry("PARTNER_ADDED", "4000000000001"))
EVENTS = "qualifica_webhook_events_total"


class TestHandshake:
    async def test_matching_token_echoes_the_bare_challenge(self, client: httpx.AsyncClient) -> None:
        params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
        response = await client.get(WEBHOOK_PATH, params=params)
        assert response.status_code == 200
        assert response.text == "1158201444"

    async def test_wrong_token_or_mode_is_refused(self, client: httpx.AsyncClient) -> None:
        for params in (
            {"hub.mode": "subscribe", "hub.verify_token": "not-it", "hub.challenge": "1"},
            {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
            {"hub.mode": "subscribe", "hub.challenge": "1"},
            {},
        ):
            response = await client.get(WEBHOOK_PATH, params=params)
            assert response.status_code == 403
            assert VERIFY_TOKEN not in response.text


class TestSignature:
    async def test_a_signed_body_is_stored_with_its_sha256(
        self, client: httpx.AsyncClient, db: AsyncSession
    ) -> None:
        before = metric(EVENTS, field="account_update", outcome="stored")
        response = await post_signed(client, BODY)
        assert response.status_code == 200
        event = await db.scalar(WebhookEvent.__table__.select().with_only_columns(WebhookEvent.sha256))
        assert event == hashlib.sha256(BODY).hexdigest()
        assert metric(EVENTS, field="account_update", outcome="stored") == before + 1

    async def test_missing_wrong_or_mis_prefixed_signatures_are_401(
        self, client: httpx.AsyncClient, db: AsyncSession
    ) -> None:
        before = metric(EVENTS, field="unknown", outcome="invalid_signature")
        expected = sign(BODY, APP_SECRET)
        for headers in (
            {},
            {"x-hub-signature-256": sign(BODY, "another-secret")},
            {"x-hub-signature-256": "sha1=" + expected.removeprefix("sha256=")},
            {"x-hub-signature-256": expected.removeprefix("sha256=")},
            {"x-hub-signature-256": sign(BODY + b" ", APP_SECRET)},
        ):
            response = await client.post(WEBHOOK_PATH, content=BODY, headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "invalid_signature"
            assert expected.removeprefix("sha256=") not in response.text
        assert await count(db, WebhookEvent) == 0
        assert metric(EVENTS, field="unknown", outcome="invalid_signature") == before + 5

    async def test_empty_body_is_refused_signed_or_not(
        self, client: httpx.AsyncClient, db: AsyncSession
    ) -> None:
        assert (await client.post(WEBHOOK_PATH, content=b"")).status_code == 401
        assert (await client.post(WEBHOOK_PATH, content=b"", headers=signed(b""))).status_code == 400
        assert await count(db, WebhookEvent) == 0

    async def test_no_secret_reaches_the_logs_or_the_answer(
        self, client: httpx.AsyncClient, captured_logs: io.StringIO
    ) -> None:
        answers = [
            await post_signed(client, BODY),
            await client.post(WEBHOOK_PATH, content=BODY, headers={"x-hub-signature-256": sign(BODY, "x")}),
            await client.get(WEBHOOK_PATH, params={"hub.mode": "subscribe", "hub.verify_token": "bad"}),
        ]
        seen = captured_logs.getvalue() + "".join(answer.text for answer in answers)
        assert "webhook.invalid_signature" in seen
        for secret in (APP_SECRET, VERIFY_TOKEN, sign(BODY, APP_SECRET).removeprefix("sha256=")):
            assert secret not in seen


class TestSizeLimit:
    async def test_over_3_mib_is_413_by_content_length(
        self, client: httpx.AsyncClient, db: AsyncSession
    ) -> None:
        before = metric(EVENTS, field="unknown", outcome="too_large")
        body = b" " * (WEBHOOK_BODY_LIMIT + 1)
        response = await client.post(WEBHOOK_PATH, content=body, headers=signed(body))
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert metric(EVENTS, field="unknown", outcome="too_large") == before + 1
        assert await count(db, WebhookEvent) == 0

    async def test_over_3_mib_streamed_without_length_is_413(self, client: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b" " * (1024 * 1024)

        response = await client.post(
            WEBHOOK_PATH, content=chunks(), headers={"x-hub-signature-256": "sha256=0"}
        )
        assert response.status_code == 413

    async def test_a_body_of_exactly_3_mib_is_accepted(
        self, client: httpx.AsyncClient, db: AsyncSession
    ) -> None:
        padding = WEBHOOK_BODY_LIMIT - len(BODY)
        body = BODY[:-1] + b"," + b'"pad":"' + b"x" * (padding - 9) + b'"}'
        assert len(body) == WEBHOOK_BODY_LIMIT
        response = await post_signed(client, body)
        assert response.status_code == 200
        assert await count(db, WebhookEvent) == 1


class TestInbox:
    async def test_a_duplicate_delivery_is_acknowledged_and_stored_once(
        self, client: httpx.AsyncClient, db: AsyncSession
    ) -> None:
        before = metric(EVENTS, field="account_update", outcome="duplicate")
        first, second = await post_signed(client, BODY), await post_signed(client, BODY)
        assert (first.status_code, second.status_code) == (200, 200)
        assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
        assert await count(db, WebhookEvent) == 1
        assert metric(EVENTS, field="account_update", outcome="duplicate") == before + 1

    async def test_a_body_that_is_not_json_is_still_stored(
        self, client: httpx.AsyncClient, db: AsyncSession
    ) -> None:
        assert (await post_signed(client, b"not json \x00")).status_code == 200
        assert await count(db, WebhookEvent, WebhookEvent.field.is_(None)) == 1
