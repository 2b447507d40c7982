"""The answers of the connection API: typed bodies, their metric labels, and what /docs says about them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.meta.sandbox import Sandbox
from qualifica.whatsapp.errors import MetaFailure, SessionExpired
from qualifica.whatsapp.outcomes import AttemptOutcome
from tests.support.signup import Browser

API = "/api/v1/whatsapp"
CALLBACK = f"{API}/embedded-signup/callback"
ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}
ATTEMPT_ID = uuid.UUID("5f0e2b8a-3c41-4d8e-a1b7-2e6f9c0d4a35")


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


class TestAttemptOutcome:
    @pytest.mark.parametrize(
        ("outcome", "status_code", "label"),
        [
            (AttemptOutcome.completed(ATTEMPT_ID), 200, "completed"),
            (AttemptOutcome.pending(ATTEMPT_ID, "processing"), 202, "processing"),
            (AttemptOutcome.pending(ATTEMPT_ID, "pin_required"), 202, "pin_required"),
            (AttemptOutcome.failed(MetaFailure(hint="Tente de novo.")), 502, "failed"),
            (AttemptOutcome.failed(SessionExpired()), 401, "failed"),
        ],
    )
    def test_a_stored_answer_replays_with_its_body_and_label(
        self, outcome: AttemptOutcome, status_code: int, label: str
    ) -> None:
        replayed = AttemptOutcome.from_json(outcome.as_json())

        assert (replayed.status_code, replayed.label) == (status_code, label)
        assert replayed.content() == outcome.content()

    def test_bodies_are_sent_exactly_as_the_contract_shows_them(self) -> None:
        assert AttemptOutcome.completed(ATTEMPT_ID).content() == {
            "success": True,
            "connection_id": str(ATTEMPT_ID),
        }
        assert list(AttemptOutcome.pending(ATTEMPT_ID, "pin_required").content()) == [
            "success",
            "status",
            "attempt_id",
        ]
        assert AttemptOutcome.failed(SessionExpired()).content() == {  # no "hint": null
            "error": {"code": "session_expired", "message": "Sessão expirada. Clique para reconectar."}
        }


class TestOpenAPI:
    async def test_the_callback_documents_its_bodies_and_the_error_envelope(
        self, client: httpx.AsyncClient
    ) -> None:
        document = await openapi(client)
        responses = document["paths"][CALLBACK]["post"]["responses"]
        schemas = document["components"]["schemas"]

        def content(status: str) -> dict[str, Any]:
            media: dict[str, Any] = responses[status]["content"]["application/json"]
            return media

        assert content("200")["schema"] == {"$ref": "#/components/schemas/CallbackDone"}
        assert content("202")["schema"] == {"$ref": "#/components/schemas/CallbackPending"}
        assert schemas["CallbackDone"]["required"] == ["success", "connection_id"]
        assert schemas["CallbackPending"]["properties"]["status"]["enum"] == [
            "processing",
            "pin_required",
            "choice_required",
            "verification_required",
            "number_required",
        ]
        assert schemas["CallbackPending"]["examples"]
        for status, code in [
            ("400", "invalid_state"),
            ("401", "session_expired"),
            ("403", "feature_disabled"),
            ("409", "state_already_used"),
            ("422", "invalid_request"),
            ("502", "meta_error"),
        ]:
            assert content(status)["schema"] == ENVELOPE, status
            assert content(status)["examples"][code]["value"]["error"]["code"] == code
        assert schemas["ErrorEnvelope"]["required"] == ["error"]
        detail = schemas["ErrorDetail"]
        assert detail["required"] == ["code", "message"] and "hint" in detail["properties"]

    async def test_every_json_route_answers_its_errors_in_the_envelope(
        self, client: httpx.AsyncClient
    ) -> None:
        document = await openapi(client)
        routes = {
            (method, path): operation["responses"]
            for path, operations in document["paths"].items()
            if path.startswith(API) and not path.startswith(f"{API}/webhook")
            for method, operation in operations.items()
        }
        # §4's nine, §14's four, §15's messages (2), test message (2), events and media
        assert len(routes) == 19
        for route, responses in routes.items():
            errors = {status: answer for status, answer in responses.items() if status >= "400"}
            assert "500" in errors and "401" in errors, route
            for status, answer in errors.items():
                assert answer["content"]["application/json"]["schema"] == ENVELOPE, (route, status)


class TestStatusBody:
    async def test_a_connection_is_shown_with_exactly_the_contract_fields(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        connected = await browser.connect(sandbox)
        assert connected.status_code == 200

        status = await browser.status()

        assert list(status) == [
            "status",
            "connection",
            "error",
            "attempt_id",
            "step",
            "choices",
            "phone_number",
        ]
        assert (status["choices"], status["phone_number"]) == (None, None)
        assert (status["status"], status["error"], status["attempt_id"], status["step"]) == (
            "active",
            None,
            None,
            None,
        )
        connection = status["connection"]
        assert list(connection) == [
            "id",
            "waba_id",
            "phone_number_id",
            "display_phone_number",
            "business_name",
            "business_id",
            "verified_name",
            "status",
            "connected_at",
            "disconnected_at",
            "token_expires_at",
            "has_existing_number",
            "quality_rating",
            "name_status",
            "messaging_limit",
            "health_warnings",
            "health",
            "last_health_check_at",
            "last_health_error",
        ]
        assert connection["id"] == connected.json()["connection_id"]
        assert (connection["status"], connection["health_warnings"]) == ("active", [])

    async def test_a_failed_callback_is_shown_with_its_hint(self, browser: Browser, sandbox: Sandbox) -> None:
        sandbox.fail_next("register", code=100, message="(#100) Invalid parameter")
        failed = await browser.connect(sandbox)
        assert failed.status_code == 502

        status = await browser.status()

        assert status["status"] == "not_connected"
        assert status["error"] == failed.json()["error"]
        assert list(status["error"]) == ["code", "message", "hint"]
