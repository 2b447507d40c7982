"""Meta's code is never stored: the callback's own run holds it in memory, and only its digest is kept."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from qualifica.accounts.models import Organization
from qualifica.config import Settings
from qualifica.db import utcnow
from qualifica.meta.sandbox import Sandbox
from qualifica.migrate import downgrade, upgrade
from qualifica.security.crypto import DecryptionError, KeyRing, associated_data
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt
from tests.support.signup import Browser

ATTEMPTS = EmbeddedSignupAttempt.__table__
TABLE = EmbeddedSignupAttempt.__tablename__
BEFORE_THE_DROP = "0003_analytics_delivery"


async def stored_row(db: AsyncSession) -> dict[str, Any]:
    """Every column of the (only) attempt, as the database holds it."""
    row = dict((await db.execute(select(ATTEMPTS))).mappings().one())
    await db.rollback()  # no read transaction left open: on SQLite it would hold the pipeline's writes
    return row


def holds(ring: KeyRing, row: dict[str, Any], code: str) -> list[str]:
    """The columns whose value is the code, contains it, or decrypts to it under any column's binding."""
    found = []
    for name, value in row.items():
        text = str(value)
        if code in text:
            found.append(name)
            continue
        for column in [*ATTEMPTS.columns.keys(), "code"]:
            try:
                plaintext = ring.decrypt(text, associated_data(TABLE, column, row["id"]))
            except DecryptionError:
                continue
            if plaintext == code:
                found.append(name)
    return found


class TestTheCodeIsNotStored:
    async def test_no_column_holds_the_code_after_a_callback(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, app: FastAPI
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        assert (await browser.callback(state, result)).status_code == 200

        row = await stored_row(db)
        assert "code" not in row
        assert holds(app.state.runtime.ring, row, str(result.code)) == []
        assert row["code_digest"] == hashlib.sha256(str(result.code).encode()).hexdigest()

    async def test_no_column_holds_the_code_while_the_pipeline_runs(
        self, browser: Browser, sandbox: Sandbox, db: AsyncSession, app: FastAPI
    ) -> None:
        sandbox.set_latency("register", 1.0)  # the token is stored, the attempt is still processing
        state = await browser.start()
        result = sandbox.complete_signup()
        callback = asyncio.create_task(browser.callback(state, result))
        for _ in range(100):
            await asyncio.sleep(0.02)
            row = await stored_row(db)
            if row["access_token"] is not None:
                break
        assert row["status"] == AttemptStatus.PROCESSING and row["access_token"] is not None
        assert holds(app.state.runtime.ring, row, str(result.code)) == []
        assert (await callback).status_code == 200

    async def test_a_retried_callback_replays_the_first_answer(
        self, browser: Browser, sandbox: Sandbox
    ) -> None:
        state = await browser.start()
        result = sandbox.complete_signup()
        first = await browser.callback(state, result)
        again = await browser.callback(state, result)

        assert (again.status_code, again.json()) == (first.status_code, first.json())
        assert len(sandbox.requests("oauth_access_token")) == 1
        other = await browser.callback(state, sandbox.complete_signup())
        assert (other.status_code, other.json()["error"]["code"]) == (409, "state_already_used")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    url = make_url(settings.database_url)
    sync = url.set(drivername="postgresql+psycopg" if url.get_backend_name() == "postgresql" else "sqlite")
    engine = create_engine(sync)
    yield engine
    engine.dispose()


class TestMigration:
    def test_the_code_column_goes_and_comes_back_keeping_the_attempts(
        self, settings: Settings, engine: Engine
    ) -> None:
        with Session(engine) as session, session.begin():
            organization = Organization(name="Imobiliária Migrada")
            session.add(organization)
            session.flush()
            attempt = EmbeddedSignupAttempt(
                organization_id=organization.id,
                status=AttemptStatus.COMPLETED,
                code_digest="d" * 64,
                started_at=utcnow(),
            )
            session.add(attempt)
            session.flush()
            attempt_id = attempt.id
        try:
            downgrade(settings.database_url, BEFORE_THE_DROP)
            assert "code" in columns(engine)
            upgrade(settings.database_url)
        finally:
            upgrade(settings.database_url)  # the next test finds the schema it expects, whatever happened

        assert "code" not in columns(engine)
        with Session(engine) as session:
            kept = session.scalars(select(EmbeddedSignupAttempt)).one()
        assert (kept.id, kept.code_digest) == (attempt_id, "d" * 64)


def columns(engine: Engine) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(TABLE)}
