"""Metric labels are closed sets (ARCHITECTURE §13): free text from a request never becomes a series."""

from __future__ import annotations

import secrets

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.observability.analytics import EventName
from qualifica.observability.models import AnalyticsEvent
from qualifica.observability.webhook_metrics import field_label
from qualifica.whatsapp.catalogue import METRIC_ERROR_CODE
from qualifica.whatsapp.models import EmbeddedSignupAttempt as Attempt
from qualifica.whatsapp.steps import METRIC_STEP
from tests.support.signup import Browser

Series = frozenset[tuple[str, str]]


def series(family: str) -> set[Series]:
    return {
        frozenset(sample.labels.items())
        for metric in REGISTRY.collect()
        if metric.name == family
        for sample in metric.samples
        if sample.name == f"{family}_total"
    }


def random_value() -> str:
    return "x" + secrets.token_hex(6)


class TestClosedLabels:
    async def test_a_hundred_random_reports_add_no_series_beyond_other(
        self, admin: Browser, db: AsyncSession
    ) -> None:
        failed_before = series("qualifica_embedded_signup_failed")
        cancelled_before = series("qualifica_embedded_signup_cancelled")
        reported = []
        for _ in range(100):
            step, code = random_value(), random_value()
            reported.append((step, code))
            body = {"state": await admin.start(), "step": step, "error_code": code, "error_message": "x"}
            assert (await admin.post("/embedded-signup/error", body)).status_code == 204
        for _ in range(10):
            assert (await admin.cancel(random_value())).status_code == 204

        other = frozenset({("error_code", "other"), ("step", "other")})
        assert series("qualifica_embedded_signup_failed") - failed_before <= {other}
        assert series("qualifica_embedded_signup_cancelled") - cancelled_before <= {
            frozenset({("step", "other")})
        }
        # The raw values stay where they are read: the attempt and the analytics event.
        attempts = (await db.scalars(select(Attempt).where(Attempt.error_code.is_not(None)))).all()
        assert {(a.step_failed, a.error_code) for a in attempts} == set(reported)
        failed = select(AnalyticsEvent).where(AnalyticsEvent.name == EventName.SIGNUP_FAILED)
        events = (await db.scalars(failed)).all()
        assert {e.properties["error_code"] for e in events} == {code for _, code in reported}

    async def test_known_values_keep_their_own_series(self, admin: Browser) -> None:
        body = {"state": await admin.start(), "step": "PHONE_NUMBER_SETUP", "error_code": "2494028"}
        assert (await admin.post("/embedded-signup/error", body)).status_code == 204
        assert frozenset({("error_code", "2494028"), ("step", "phone")}) in series(
            "qualifica_embedded_signup_failed"
        )


class TestLabelSets:
    @pytest.mark.parametrize(
        ("step", "expected"),
        [
            ("token_exchange", "token_exchange"),
            ("registration", "registration"),
            ("login", "login"),
            ("phone", "phone"),
            ("superseded", "superseded"),
            ("phone_number_setup_v2", "other"),
            ("", "other"),
        ],
    )
    def test_step(self, step: str, expected: str) -> None:
        assert METRIC_STEP(step) == expected

    @pytest.mark.parametrize(
        ("code", "expected"),
        [
            ("190", "190"),  # Meta's, in the catalogue
            ("133005", "133005"),
            ("2494028", "2494028"),  # the popup's, in the catalogue
            ("session_expired", "session_expired"),  # the error tree's
            ("internal_error", "internal_error"),
            ("meta_unavailable", "meta_unavailable"),
            ("phone_not_found", "phone_not_found"),
            ("unknown", "unknown"),
            ("999999", "other"),
            ("<script>", "other"),
        ],
    )
    def test_error_code(self, code: str, expected: str) -> None:
        assert METRIC_ERROR_CODE(code) == expected

    @pytest.mark.parametrize(
        ("field", "expected"),
        [
            ("messages", "messages"),
            ("account_update", "account_update"),
            ("mixed", "mixed"),
            (None, "unknown"),
            ("message_template_status_update", "other"),
            ("a_field_nobody_declared", "other"),
        ],
    )
    def test_webhook_field(self, field: str | None, expected: str) -> None:
        assert field_label(field) == expected
