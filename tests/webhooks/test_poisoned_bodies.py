"""Bodies the database cannot hold as sent (ARCHITECTURE §13): sanitised when stored, and one that still
fails is marked ``malformed`` without delaying any other body, of any tenant; no log line quotes a body."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.runtime import Runtime
from qualifica.webhooks import payload
from qualifica.webhooks.models import WebhookChange, WebhookEvent
from qualifica.webhooks.processing import process_webhooks
from tests.support.connections import make_connection
from tests.support.metrics import metric
from tests.support.webhooks import post_signed

FIRST_WABA, SECOND_WABA = "6100000000001", "6100000000002"
SECRET_WORDS = "visitar o apartamento da rua Augusta"  # what a lead wrote: never in a log line


def message_body(waba_id: str, text: str, *, sender: str = "5511987650001") -> str:
    """A ``messages`` notification as JSON text, ``text`` pasted in verbatim (escapes and all)."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5511940001111", "phone_number_id": "1000001"},
        "contacts": [{"profile": {"name": "Lead"}, "wa_id": sender}],
        "messages": [
            {
                "from": sender,
                "id": "wamid.X",
                "timestamp": "1697043223",
                "text": {"body": "@TEXT@"},
                "type": "text",
            }
        ],
    }
    change = {"field": "messages", "value": value}
    document = {"object": "whatsapp_business_account", "entry": [{"id": waba_id, "changes": [change]}]}
    return json.dumps(document).replace('"@TEXT@"', text)


POISONS = {
    "lone_surrogate": '"Oi \\ud83d ' + SECRET_WORDS + '"',
    "nul_escape": '"Oi \\u0000 ' + SECRET_WORDS + '"',
    "raw_nul": '"Oi \x00 ' + SECRET_WORDS + '"',  # a NUL byte in the raw body
    "nan": "NaN",
    "infinity": "-Infinity",
    "overflowing_float": "1e400",
}


async def run_until_idle(runtime: Runtime) -> None:
    while await process_webhooks(runtime):
        pass


async def outcomes_by_text(db: AsyncSession) -> dict[str, tuple[str | None, str | None]]:
    """The text of each stored body's message → (the body's outcome, its change's outcome)."""
    events = (await db.scalars(select(WebhookEvent).execution_options(populate_existing=True))).all()
    found: dict[str, tuple[str | None, str | None]] = {}
    for event in events:
        change = await db.scalar(
            select(WebhookChange)
            .where(WebhookChange.event_id == event.id)
            .execution_options(populate_existing=True)
        )
        found[event.payload] = (event.outcome, change.outcome if change else None)
    return found


@pytest.fixture
async def tenants(db: AsyncSession, app: FastAPI) -> None:
    await make_connection(db, app, waba_id=FIRST_WABA)
    await make_connection(db, app, waba_id=SECOND_WABA, phone_number_id="1000002")


class TestPoisonedBodies:
    @pytest.mark.parametrize("poison", sorted(POISONS))
    async def test_good_bodies_of_both_tenants_are_processed_beside_a_poisoned_one(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        runtime: Runtime,
        tenants: None,
        captured_logs: io.StringIO,
        poison: str,
    ) -> None:
        before = metric("qualifica_webhook_events_total", field="unknown", outcome="failed")
        good = [message_body(FIRST_WABA, '"primeira"'), message_body(SECOND_WABA, '"segunda"')]
        bad = message_body(FIRST_WABA, POISONS[poison], sender="5511987659999")
        for body in (bad, *good):  # the poisoned one first: it leads every batch
            assert (await post_signed(client, body.encode())).status_code == 200
        await run_until_idle(runtime)

        found = await outcomes_by_text(db)
        for body in good:
            assert found[body] == ("split", "processed")
        bad = bad.replace("\x00", "\ufffd")  # as stored: a raw NUL is replaced on arrival
        if poison in (
            "lone_surrogate",
            "nul_escape",
            "raw_nul",
        ):  # sanitised: U+FFFD in place of what JSONB refuses
            assert found[bad] == ("split", "processed")
            texts = {
                c.value["messages"][0]["text"]["body"]
                for c in (await db.scalars(select(WebhookChange))).all()
            }
            assert f"Oi \ufffd {SECRET_WORDS}" in texts
        else:  # not JSON (RFC 8259 has no NaN or Infinity): kept, marked malformed, counted
            assert found[bad] == ("malformed", None)
            assert metric("qualifica_webhook_events_total", field="unknown", outcome="failed") == before + 1
        logged = captured_logs.getvalue()
        assert SECRET_WORDS not in logged and "5511987659999" not in logged

    async def test_a_body_the_database_refuses_is_marked_malformed_and_delays_no_other(
        self,
        client: httpx.AsyncClient,
        db: AsyncSession,
        runtime: Runtime,
        tenants: None,
        captured_logs: io.StringIO,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Sanitising off: the lone surrogate reaches PostgreSQL, which refuses the whole batch (SQLite takes
        it, so there the body carries a value no JSON column can hold)."""

        def unsanitised(text: str) -> Any:
            document = json.loads(text)
            if runtime.is_sqlite and "\\ud83d" in text:
                document["entry"][0]["changes"][0]["value"]["unstorable"] = {1, 2}
            return document

        monkeypatch.setattr(payload, "load", unsanitised)
        bad = message_body(FIRST_WABA, POISONS["lone_surrogate"], sender="5511987659999")
        good = [message_body(waba, f'"mensagem {n}"') for n in range(3) for waba in (FIRST_WABA, SECOND_WABA)]
        for body in (bad, *good):
            assert (await post_signed(client, body.encode())).status_code == 200

        assert await process_webhooks(runtime) > 0  # one round: all split, the bad one set aside
        found = await outcomes_by_text(db)
        assert found[bad][0] == "malformed"
        assert all(found[body][0] == "split" for body in good)
        await run_until_idle(runtime)
        found = await outcomes_by_text(db)
        assert all(found[body] == ("split", "processed") for body in good)
        event = await db.scalar(select(WebhookEvent).where(WebhookEvent.outcome == "malformed"))
        assert event is not None and event.processed_at is not None
        assert event.error is not None and SECRET_WORDS not in event.error
        logged = captured_logs.getvalue()
        assert SECRET_WORDS not in logged and "5511987659999" not in logged
        assert "webhook.malformed" in logged


class TestSanitising:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('"\\ud83d"', "\ufffd"),
            ('"\\udc00x"', "\ufffdx"),
            ('"\\ud83d\\ude00"', "\U0001f600"),  # a valid pair is one character, kept
            ('"a\\u0000b"', "a\ufffdb"),
            ('"C:\\\\u0000"', "C:\\u0000"),  # an escaped backslash: no NUL, left as sent
        ],
    )
    def test_strings_become_what_the_database_can_hold(self, text: str, expected: str) -> None:
        assert payload.load('{"k": ' + text + "}") == {"k": expected}

    def test_keys_are_cleaned_too(self) -> None:
        assert payload.load('{"\\ud83d": 1}') == {"\ufffd": 1}

    @pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
    def test_non_finite_numbers_are_not_json(self, number: str) -> None:
        with pytest.raises(ValueError, match="is not JSON"):
            payload.load('{"k": ' + number + "}")

    def test_read_of_a_non_finite_body_finds_no_change(self) -> None:
        assert (
            payload.read(b'{"entry": [{"id": "1", "changes": [{"field": "x", "value": {"n": NaN}}]}]}') == []
        )

    def test_finite_numbers_are_kept(self) -> None:
        document: Any = payload.load('{"a": 1.5, "b": -2e10, "c": 12345678901234567890}')
        assert document == {"a": 1.5, "b": -2e10, "c": 12345678901234567890}


class TestPoisonedRoutingKeys:
    async def test_a_field_and_entry_id_the_database_cannot_hold_are_stored_cleaned(
        self, client: httpx.AsyncClient, db: AsyncSession, runtime: Runtime
    ) -> None:
        """The inbox row records the body's field and WABA before any split: those are cleaned too."""
        change = '{"field": "mess\\u0000ages\\udc00", "value": {}}'
        body = '{"entry": [{"id": "61\\ud83d", "changes": [' + change + "]}]}"
        assert (await post_signed(client, body.encode())).status_code == 200
        await run_until_idle(runtime)
        event = await db.scalar(select(WebhookEvent))
        assert event is not None
        assert (event.field, event.waba_id, event.outcome) == ("mess\ufffdages\ufffd", "61\ufffd", "split")
