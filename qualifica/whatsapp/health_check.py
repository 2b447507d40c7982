"""Connection health (``connection.health_check``): is the token still good, how is the number doing.

For each active connection, once per ``health_check_interval_seconds`` (and on demand from the page):
``debug_token`` and the phone number, read concurrently with no transaction open, then applied in one.
An invalid token (or any call answering 190) puts the connection in ``error``/``token_invalid``; a token
expiring within 7 days becomes a warning; a failed check keeps the last good snapshot and records why.
The check also reads the WABA's ``subscribed_apps``: when our app is missing (someone removed it in
WhatsApp Manager, or another app took its place) it subscribes again, audits
``whatsapp.subscription_repaired`` and counts it; the connection stays ``active`` meanwhile.
A check is claimed by moving ``last_health_check_at`` forward with a compare-and-set, so two workers never
check the same connection in the same period.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update

from qualifica import audit
from qualifica.db import utcnow
from qualifica.jobs.leases import Moment, compare_and_set, database_now
from qualifica.logging import get_logger
from qualifica.meta.errors import MetaError
from qualifica.meta.models import PhoneNumber, TokenInfo
from qualifica.observability import webhook_metrics
from qualifica.runtime import Runtime
from qualifica.whatsapp.connection_state import (
    clear_warning,
    mark_active,
    mark_error,
    note_token_expiring,
    readable_token,
    set_warning,
)
from qualifica.whatsapp.errors import NotConnected
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection

log = get_logger(__name__)
BATCH = 20
CHECK_SECONDS = 20.0
EXPIRY_WARNING = timedelta(days=7)
ON_DEMAND_SPACING = timedelta(seconds=10)
SENDING_WARNINGS = {"LIMITED": "phone_limited", "BLOCKED": "phone_blocked"}  # health_status.can_send_message
SENDING_MESSAGES = {
    "phone_limited": "A Meta limitou o envio de mensagens deste número.",
    "phone_blocked": "A Meta bloqueou o envio de mensagens deste número.",
}


@dataclass(frozen=True)
class Reading:
    """What Meta answered: both results, or the failure (``invalid`` for a dead token)."""

    token: TokenInfo | None = None
    phone: PhoneNumber | None = None
    invalid: bool = False
    failure: str | None = None
    # The sealed token the reading used: applied only while it is still the connection's (a reconnect
    # meanwhile sealed a new one, and the old token's news say nothing about it).
    sealed: str | None = None
    subscribed: bool | None = None  # our app among the WABA's subscribed apps (None: not read)


async def run_due_health_checks(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Check every active connection not checked within the interval; returns how many were checked.

    Due is judged by the database's clock (``now`` only when a test passes one), like every claim.
    """
    interval = timedelta(seconds=runtime.settings.health_check_interval_seconds)
    not_since: Moment = database_now(-interval) if now is None else now - interval
    async with runtime.sessionmaker() as session:
        ids = (
            await session.scalars(
                select(WhatsAppConnection.id)
                .where(WhatsAppConnection.status == ConnectionStatus.ACTIVE, _not_checked_since(not_since))
                .order_by(WhatsAppConnection.last_health_check_at.nulls_first())
                .limit(BATCH)
            )
        ).all()
    checked = 0
    for connection_id in ids:
        if await claim(runtime, connection_id, now=now, not_since=not_since):
            await check(runtime, connection_id)
            checked += 1
    return checked


def _not_checked_since(moment: Moment) -> ColumnElement[bool]:
    """Last checked (or, never checked, connected: the signup has just verified it) before ``moment``."""
    checked, connected = WhatsAppConnection.last_health_check_at, WhatsAppConnection.connected_at
    never = and_(checked.is_(None), or_(connected.is_(None), connected < moment))
    return or_(never, checked < moment)


async def claim(
    runtime: Runtime,
    connection_id: uuid.UUID,
    *,
    now: datetime | None,
    not_since: Moment,
    on_demand: bool = False,
) -> bool:
    checked = WhatsAppConnection.last_health_check_at
    due = or_(checked.is_(None), checked < not_since) if on_demand else _not_checked_since(not_since)
    statuses = (ConnectionStatus.ACTIVE, ConnectionStatus.ERROR) if on_demand else (ConnectionStatus.ACTIVE,)
    async with runtime.sessionmaker.begin() as session:
        return await compare_and_set(
            session,
            update(WhatsAppConnection)
            .where(WhatsAppConnection.id == connection_id, WhatsAppConnection.status.in_(statuses), due)
            .values(last_health_check_at=database_now() if now is None else now),
        )


async def check_organization(runtime: Runtime, *, organization_id: uuid.UUID) -> None:
    """The page's "check now": the organization's live connection, checked at most every 10 s."""
    async with runtime.sessionmaker() as session:
        connection_id = await session.scalar(
            select(WhatsAppConnection.id).where(
                WhatsAppConnection.organization_id == organization_id,
                WhatsAppConnection.status != ConnectionStatus.DISCONNECTED,
            )
        )
    if connection_id is None:
        raise NotConnected
    await check_now(runtime, connection_id)


async def check_now(runtime: Runtime, connection_id: uuid.UUID) -> bool:
    """The page's on-demand check (at most one per ``ON_DEMAND_SPACING``); False when it was skipped."""
    spaced = database_now(-ON_DEMAND_SPACING)
    if not await claim(runtime, connection_id, now=None, not_since=spaced, on_demand=True):
        return False
    await check(runtime, connection_id)
    return True


async def check(runtime: Runtime, connection_id: uuid.UUID) -> Reading:
    async with runtime.sessionmaker() as session:
        connection = await session.get(WhatsAppConnection, connection_id)
    if connection is None:
        return Reading(failure="gone")
    reading = await read(runtime, connection)
    outcome = await apply(runtime, connection_id, reading)
    if outcome in ("ok", "token_expiring") and reading.subscribed is False:
        await repair_subscription(runtime, connection, reading)
    return reading


async def read(runtime: Runtime, connection: WhatsAppConnection) -> Reading:
    return replace(await _read(runtime, connection), sealed=connection.access_token)


async def _read(runtime: Runtime, connection: WhatsAppConnection) -> Reading:
    token = readable_token(runtime.ring, connection)  # one that cannot be decrypted is an invalid one
    if not token:
        return Reading(invalid=True)
    deadline = time.monotonic() + CHECK_SECONDS
    results = await asyncio.gather(
        runtime.graph.debug_token(token, deadline=deadline),
        runtime.graph.get_phone_number(connection.phone_number_id, token=token, deadline=deadline),
        runtime.graph.subscribed_apps(connection.waba_id, token=token, deadline=deadline),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    if any(isinstance(e, MetaError) and e.is_invalid_token for e in errors):
        return Reading(invalid=True)
    if errors:
        error = errors[0]
        if not isinstance(error, Exception):
            raise error  # cancellation and the like are not a failed check
        detail = str(error) if isinstance(error, MetaError) else type(error).__name__
        return Reading(failure=detail[:500])
    info, phone, apps = results
    assert isinstance(info, TokenInfo) and isinstance(phone, PhoneNumber) and isinstance(apps, list)
    subscribed = _has_app(apps, runtime.graph.app_id)
    return Reading(token=info, phone=phone, invalid=not info.is_valid, subscribed=subscribed)


def _has_app(apps: list[dict[str, Any]], app_id: str) -> bool:
    """Meta lists each subscribed app as ``{"whatsapp_business_api_data": {"id", "link", "name"}}``."""
    for item in apps:
        data = item.get("whatsapp_business_api_data")
        if isinstance(data, dict) and str(data.get("id")) == app_id:
            return True
    return False


async def repair_subscription(runtime: Runtime, connection: WhatsAppConnection, reading: Reading) -> None:
    """Subscribe our app again (as the signup does); audited and counted once Meta said yes.

    Done after ``apply`` with no transaction open; a Meta error is recorded like a failed check (the
    connection stays ``active``), an invalid token like any other invalid token.
    """
    token = readable_token(runtime.ring, connection)
    if not token:
        return
    try:
        await runtime.graph.subscribe_app(
            connection.waba_id, token=token, deadline=time.monotonic() + CHECK_SECONDS
        )
    except MetaError as error:
        if error.is_invalid_token:
            await apply(runtime, connection.id, Reading(invalid=True, sealed=reading.sealed))
            return
        async with runtime.sessionmaker.begin() as session:
            current = await session.get(WhatsAppConnection, connection.id, with_for_update=True)
            if current is not None and current.access_token == reading.sealed:
                current.last_health_error = f"subscribed_apps: {error}"[:500]
        log.warning("connection.subscription_repair_failed", connection_id=str(connection.id))
        return
    async with runtime.sessionmaker.begin() as session:
        current = await session.get(WhatsAppConnection, connection.id, with_for_update=True)
        if current is None or current.status is ConnectionStatus.DISCONNECTED:
            return  # disconnected meanwhile: the disconnect's own unsubscribe is the last word
        await audit.record(
            session,
            organization_id=current.organization_id,
            actor_user_id=None,
            action="whatsapp.subscription_repaired",
            status=current.status.value,
            details={"waba_id": current.waba_id, "source": "health_check"},
        )
    webhook_metrics.subscription_repaired()
    log.warning("connection.subscription_repaired", connection_id=str(connection.id))


async def apply(runtime: Runtime, connection_id: uuid.UUID, reading: Reading) -> str:
    """Apply a reading in one transaction; returns the check's outcome (``gone`` when nothing to apply)."""
    async with runtime.sessionmaker.begin() as session:
        connection = await session.get(WhatsAppConnection, connection_id, with_for_update=True)
        if connection is None or connection.status is ConnectionStatus.DISCONNECTED:
            return "gone"
        if reading.sealed != connection.access_token:
            outcome = "stale"  # read with a token the connection no longer has: ignored
        elif reading.invalid:
            await mark_error(session, connection, code="token_invalid", source="health_check")
            connection.last_health_error = "token_invalid"
            outcome = "token_invalid"
        elif reading.failure is not None:
            connection.last_health_error = reading.failure  # the last good snapshot stays as it was
            outcome = "failed"
        else:
            assert reading.token is not None and reading.phone is not None
            outcome = _refresh(connection, reading.token, reading.phone)
            if outcome == "token_expiring":
                await note_token_expiring(session, connection)
            if connection.error_code == "token_invalid":
                await mark_active(session, connection, source="health_check")
    webhook_metrics.health_check(outcome=outcome)
    log.info("connection.health_check", connection_id=str(connection_id), outcome=outcome)
    return outcome


def _refresh(connection: WhatsAppConnection, info: TokenInfo, phone: PhoneNumber) -> str:
    """Take Meta's fresh snapshot; returns the check's outcome (``ok`` or ``token_expiring``)."""
    connection.last_health_error = None
    expires = datetime.fromtimestamp(info.expires_at, UTC) if info.expires_at else None
    connection.token_expires_at = expires
    connection.quality_rating = phone.quality_rating or connection.quality_rating
    connection.name_status = phone.name_status or connection.name_status
    connection.messaging_limit = phone.messaging_limit_tier or connection.messaging_limit
    connection.verified_name = phone.verified_name or connection.verified_name
    connection.code_verification_status = phone.code_verification_status
    connection.platform_type = phone.platform_type
    health_status = phone.health_status or {}
    connection.health = {
        **(connection.health or {}),
        "health_status": health_status,
        "status": phone.status,
        "throughput": phone.throughput_level,
        "account_mode": phone.account_mode,
    }
    can_send = health_status.get("can_send_message")
    clear_warning(connection, *SENDING_WARNINGS.values())
    if can_send in SENDING_WARNINGS:
        code = SENDING_WARNINGS[can_send]
        set_warning(connection, code, SENDING_MESSAGES[code], source="health_check", details=health_status)
    if expires is not None and expires - utcnow() <= EXPIRY_WARNING:
        message = (
            f"O acesso à Meta expira em {expires:%d/%m/%Y}. Reconecte o WhatsApp antes disso para não "
            "interromper o atendimento."
        )
        details = {"expires_at": expires.isoformat()}
        set_warning(connection, "token_expiring", message, source="health_check", details=details)
        return "token_expiring"
    clear_warning(connection, "token_expiring")
    return "ok"
