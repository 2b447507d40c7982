"""The service window store and the status history: what the webhook handlers write through."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.assistant.models import MessageStatus, OutboundMessage, ServiceWindow
from qualifica.assistant.outbound import record_status
from qualifica.assistant.window import last_inbound, note_inbound, window_open
from qualifica.db import utcnow
from qualifica.models import Organization

PHONE = "500000000000005"
LEAD = "5511987650001"


class TestServiceWindow:
    async def test_the_last_inbound_only_moves_forward(
        self, db: AsyncSession, organization: Organization
    ) -> None:
        now = utcnow()
        where: dict[str, Any] = {"organization_id": organization.id, "phone_number_id": PHONE, "wa_id": LEAD}
        assert await last_inbound(db, **where) is None
        await note_inbound(db, **where, at=now - timedelta(hours=2))
        await note_inbound(db, **where, at=now - timedelta(hours=1))
        await note_inbound(db, **where, at=now - timedelta(hours=30))  # a late redelivery
        await db.commit()
        seen = await last_inbound(db, **where)
        assert seen is not None and abs((seen - (now - timedelta(hours=1))).total_seconds()) < 1
        assert window_open(seen, now)
        assert not window_open(seen, now + timedelta(hours=24))
        assert not window_open(None, now)
        assert len((await db.scalars(select(ServiceWindow))).all()) == 1

    async def test_each_organization_and_lead_has_its_own_window(
        self, db: AsyncSession, organization: Organization
    ) -> None:
        other = Organization(name="Outra")
        db.add(other)
        await db.flush()
        now = utcnow()
        await note_inbound(db, organization_id=organization.id, phone_number_id=PHONE, wa_id=LEAD, at=now)
        await db.commit()
        assert await last_inbound(db, organization_id=other.id, phone_number_id=PHONE, wa_id=LEAD) is None
        assert (
            await last_inbound(
                db, organization_id=organization.id, phone_number_id=PHONE, wa_id="5511000000000"
            )
            is None
        )


async def sent_message(db: AsyncSession, organization: Organization, wamid: str) -> OutboundMessage:
    message = OutboundMessage(
        organization_id=organization.id,
        phone_number_id=PHONE,
        recipient=LEAD,
        kind="text",
        status=MessageStatus.SENT,
        wamid=wamid,
        history=[{"status": "sent", "at": utcnow().isoformat(timespec="seconds")}],
    )
    db.add(message)
    await db.commit()
    return message


class TestRecordStatus:
    async def test_statuses_reach_the_history_once_and_never_move_back(
        self, db: AsyncSession, organization: Organization
    ) -> None:
        message = await sent_message(db, organization, "wamid.OUT1")
        now = utcnow()
        org = organization.id
        for status, seconds in (("delivered", 2), ("read", 5), ("delivered", 2), ("sent", 1), ("read", 5)):
            at = now + timedelta(seconds=seconds)
            await record_status(db, organization_id=org, wamid="wamid.OUT1", status=status, at=at, error=None)
        await db.commit()
        await db.refresh(message)
        assert message.status is MessageStatus.READ
        assert [item["status"] for item in message.history] == ["sent", "delivered", "read"]

    async def test_failed_wins_and_explains_itself_in_portuguese(
        self, db: AsyncSession, organization: Organization
    ) -> None:
        message = await sent_message(db, organization, "wamid.OUT2")
        error = {"code": 131026, "title": "Message undeliverable"}
        at = utcnow()
        await record_status(
            db, organization_id=organization.id, wamid="wamid.OUT2", status="failed", at=at, error=error
        )
        await record_status(
            db, organization_id=organization.id, wamid="wamid.OUT2", status="read", at=at, error=None
        )
        await db.commit()
        await db.refresh(message)
        assert message.status is MessageStatus.FAILED
        assert message.error_code == "invalid_recipient"
        assert message.error_message and "número" in message.error_message

    async def test_unknown_wamids_and_other_organizations_are_ignored(
        self, db: AsyncSession, organization: Organization
    ) -> None:
        message = await sent_message(db, organization, "wamid.OUT3")
        other = Organization(name="Outra")
        db.add(other)
        await db.flush()
        at = utcnow()
        await record_status(
            db, organization_id=other.id, wamid="wamid.OUT3", status="read", at=at, error=None
        )
        await record_status(
            db, organization_id=organization.id, wamid="wamid.NOPE", status="read", at=at, error=None
        )
        await db.commit()
        await db.refresh(message)
        assert message.status is MessageStatus.SENT
