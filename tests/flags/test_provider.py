from __future__ import annotations

import asyncio
import hashlib
import uuid

import pytest
from fastapi import FastAPI
from openfeature import api
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.flags import (
    CACHE_SECONDS,
    PROVIDER_NAME,
    WHATSAPP_EMBEDDED_SIGNUP,
    FeatureFlag,
    Rule,
    evaluate,
    flag_details,
    flag_enabled,
    provider_for,
    rollout_bucket,
)
from tests.support.factories import make_org

KEY = WHATSAPP_EMBEDDED_SIGNUP
ORG = uuid.UUID("7b0f3a52-2c5e-4c1a-9a43-6f3d2f8f0c11")


def rules(
    *, enabled: bool | None = None, percent: int | None = None, override: bool | None = None
) -> list[Rule]:
    found = [Rule(KEY, None, enabled, percent)] if (enabled, percent) != (None, None) else []
    return found + ([Rule(KEY, ORG, override, None)] if override is not None else [])


class TestEvaluation:
    @pytest.mark.parametrize(
        ("global_on", "override", "percent", "default", "expected"),
        [
            (None, None, None, False, False),  # nothing stored: the environment's default
            (None, None, None, True, True),
            (True, None, None, False, True),  # global default beats the environment's
            (False, None, None, True, False),
            (False, True, None, False, True),  # the organization's override beats the global default
            (True, False, None, True, False),
            (False, None, 100, False, True),  # inside the percentage
            (False, None, 0, True, False),  # percentage 0: nobody inside, the global off decides
            (False, False, 100, True, False),  # override beats percentage
            (None, None, 0, True, True),  # outside the percentage, no global on/off: environment default
        ],
    )
    def test_override_then_percentage_then_global_then_default(
        self,
        global_on: bool | None,
        override: bool | None,
        percent: int | None,
        default: bool,
        expected: bool,
    ) -> None:
        stored = rules(enabled=global_on, percent=percent, override=override)
        assert evaluate(stored, KEY, organization_id=ORG, default=default).value is expected

    def test_percentage_turns_on_exactly_the_organizations_below_it(self) -> None:
        orgs = [uuid.uuid5(uuid.NAMESPACE_DNS, f"org-{n}") for n in range(400)]
        on = [
            org
            for org in orgs
            if evaluate([Rule(KEY, None, False, 25)], KEY, organization_id=org, default=False).value
        ]
        assert on == [org for org in orgs if rollout_bucket(KEY, org) < 25]
        assert 60 < len(on) < 140  # about a quarter: the hash spreads organizations evenly

    def test_bucket_is_stable_and_per_flag(self) -> None:
        assert rollout_bucket(KEY, ORG) == rollout_bucket(KEY, uuid.UUID(str(ORG)))
        digest = hashlib.sha256(f"{KEY}:{ORG}".encode()).digest()
        assert rollout_bucket(KEY, ORG) == int.from_bytes(digest[:4], "big") % 100


class TestOpenFeatureProvider:
    async def test_evaluation_goes_through_the_openfeature_client_of_this_database(
        self, app: FastAPI, db: AsyncSession
    ) -> None:
        org = await make_org(db)
        db.add(FeatureFlag(key=KEY, organization_id=org.id, enabled=True))
        await db.commit()
        details = await flag_details(db, KEY, organization_id=org.id, default=False)
        assert (details.value, details.reason, details.variant) == (True, "TARGETING_MATCH", "organization")
        domain, _ = provider_for(app.state.engine)
        assert api.get_provider_metadata(domain).name == PROVIDER_NAME

    async def test_a_change_from_another_process_is_seen_within_the_cache_lifetime(
        self, app: FastAPI, db: AsyncSession
    ) -> None:
        org = await make_org(db)
        db.add(FeatureFlag(key=KEY, organization_id=None, enabled=True))
        await db.commit()
        _, provider = provider_for(app.state.engine)
        provider.ttl = 0.2
        assert await flag_enabled(db, KEY, organization_id=org.id, default=False) is True
        # Another process flips it: this process does not know, until its snapshot expires.
        await db.execute(update(FeatureFlag).values(enabled=False))
        await db.commit()
        assert await flag_enabled(db, KEY, organization_id=org.id, default=False) is True
        cached = provider.resolve_boolean_details(KEY, False)
        assert cached.value is True
        await asyncio.sleep(0.25)
        assert provider.resolve_boolean_details(KEY, False).reason == "STALE"
        assert await flag_enabled(db, KEY, organization_id=org.id, default=False) is False

    def test_the_contract_cache_lifetime_is_under_five_seconds(self) -> None:
        assert 0 < CACHE_SECONDS <= 5
