from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.meta.sandbox import Sandbox
from qualifica.observability.analytics import SCHEMAS, EventName, InvalidEvent, emit, validate
from qualifica.observability.models import AnalyticsEvent
from tests.support.meta import APP_SECRET
from tests.support.signup import Browser

STARTED, COMPLETED, FAILED = "Embedded Signup Started", "Embedded Signup Completed", "Embedded Signup Failed"
CANCELLED, DISCONNECTED = "Embedded Signup Cancelled", "WhatsApp Disconnected"


class TestCatalogue:
    def test_six_events_with_exact_names_each_with_a_schema(self) -> None:
        assert {name.value for name in EventName} == {
            "WhatsApp Setup Screen Viewed", STARTED, COMPLETED, FAILED, CANCELLED, DISCONNECTED,
        }  # fmt: skip
        assert set(SCHEMAS) == set(EventName)

    @pytest.mark.parametrize(
        ("name", "properties"),
        [
            (
                EventName.SIGNUP_FAILED,
                {"error_code": 133005, "error_message": "x", "step_failed": "registration"},
            ),
            (
                EventName.SIGNUP_FAILED,
                {"error_code": "", "error_message": "x", "step_failed": "registration"},
            ),
            (
                EventName.SIGNUP_COMPLETED,
                {"waba_id": "1", "has_existing_number": "no", "time_to_complete_seconds": 1},
            ),
            (EventName.SIGNUP_COMPLETED, {"waba_id": "1", "has_existing_number": True}),
            (EventName.SIGNUP_CANCELLED, {"step_cancelled": "phone", "access_token": "EAAG..."}),
            (EventName.DISCONNECTED, {"reason": ""}),
            (EventName.SIGNUP_STARTED, {"code": "abc"}),
        ],
    )
    def test_properties_that_do_not_match_the_schema_are_a_bug(
        self, name: EventName, properties: dict[str, object]
    ) -> None:
        with pytest.raises(InvalidEvent, match=name.value):
            validate(name, properties)

    def test_secrets_inside_free_text_are_scrubbed(self) -> None:
        token = "EAAGabcdefghijklmnopqrstu"
        message = f"failed: access_token=EAAGm0PX4ZCpsBAKZ client_secret={APP_SECRET} token {token}"
        stored = validate(
            EventName.SIGNUP_FAILED,
            {"error_code": "190", "error_message": message, "step_failed": "waba_lookup"},
        )
        assert APP_SECRET not in stored["error_message"] and "EAAG" not in stored["error_message"]
        assert stored["error_message"].startswith("failed: access_token=[redacted]")

    async def test_emit_writes_the_validated_row_in_the_callers_transaction(self, db: AsyncSession) -> None:
        event = await emit(
            db,
            EventName.DISCONNECTED,
            organization_id=None,
            user_id=None,
            properties={"reason": "unspecified"},
        )
        await db.rollback()
        assert await db.get(AnalyticsEvent, event.id) is None


class TestEventsOfEveryPath:
    async def test_signup_disconnect_cancel_and_failure_emit_events_matching_the_catalogue(
        self, admin: Browser, sandbox: Sandbox, db: AsyncSession
    ) -> None:
        connected = await admin.connect(sandbox)
        assert connected.status_code == 200, connected.text
        assert (await admin.post("/connection/disconnect")).status_code == 200
        assert (await admin.cancel("PHONE_NUMBER_SETUP")).status_code == 204
        sandbox.fail_next("oauth_access_token", code=100, message="(#100) Invalid parameter")
        failed = await admin.connect(sandbox)
        assert failed.status_code == 502, failed.text

        events = list(await db.scalars(select(AnalyticsEvent).order_by(AnalyticsEvent.occurred_at)))
        assert [e.name for e in events] == [
            STARTED, COMPLETED, DISCONNECTED, STARTED, CANCELLED, STARTED, FAILED,
        ]  # fmt: skip
        for event in events:  # what was stored (and goes to Segment) still matches the schema, strictly
            SCHEMAS[EventName(event.name)].model_validate(event.properties)
            assert event.organization_id == events[0].organization_id and event.user_id is not None
        by_name = {event.name: event.properties for event in events}
        assert by_name[COMPLETED]["has_existing_number"] is False
        assert isinstance(by_name[COMPLETED]["time_to_complete_seconds"], float)
        assert by_name[DISCONNECTED] == {"reason": "unspecified"}
        assert by_name[CANCELLED] == {"step_cancelled": "phone"}
        assert by_name[FAILED]["error_code"] == "100" and by_name[FAILED]["step_failed"] == "token_exchange"
        stored = json.dumps([event.properties for event in events])
        assert APP_SECRET not in stored and "EAA" not in stored
        assert admin.codes and not any(code in stored for code in admin.codes)
