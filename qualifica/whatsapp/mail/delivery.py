"""``mail.deliver``: the worker sends each pending mail once, retrying while the server is down.

A row is claimed with a lease of its own (holder token, database clock), rendered at send time from what the
database holds (the organization's name, the token's expiry) and handed to the sink; the result is written
naming the claim, so a run whose lease ran out records nothing and the row's next holder decides. Only the
error's type is kept (an SMTP reply may quote the account). The one window for a duplicate — the server said
"250" and the process died before the record — sends the same Message-ID again, which mail clients fold.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.invitations import Invitation
from qualifica.accounts.models import Organization
from qualifica.db import utcnow
from qualifica.jobs.leases import (
    RetryPolicy,
    compare_and_set,
    database_now,
    lease_free,
    new_holder,
    not_before,
    spread,
)
from qualifica.jobs.runner import Job
from qualifica.logging import get_logger
from qualifica.observability import mail_metrics
from qualifica.observability.mail_metrics import MailOutcome
from qualifica.runtime import Runtime
from qualifica.security.crypto import KeyRing, unseal
from qualifica.whatsapp.mail.models import MailKind, MailOutbox, MailStatus
from qualifica.whatsapp.mail.render import Mail, render_mail
from qualifica.whatsapp.mail.transport import MailSink, compose, sink_for
from qualifica.whatsapp.models import WhatsAppConnection

log = get_logger(__name__)
BATCH = 20  # mails per round at most
# 30 s, 1 min, 2 min … capped at an hour: about 20 h of retries before a mail is left for support to resend.
RETRY = RetryPolicy.seconds(lease=120, first_delay=30, max_delay=3600, max_attempts=26)


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    holder: str
    kind: MailKind
    recipient: str
    content: Mail | None  # None: an invitation used or replaced before its mail went out


class InvitationClosed(Exception):
    """The invitation was used or replaced before its mail went out: the newer one has its own."""


def expiry_of(kind: MailKind, change_key: str, token_expires_at: datetime | None) -> datetime | None:
    """The expiry a mail speaks of: the token's, unless it moved since (the change's date, end of day)."""
    if kind is not MailKind.EXPIRING:
        return None
    if token_expires_at is not None and token_expires_at.date().isoformat() == change_key:
        return token_expires_at
    return datetime.combine(datetime.fromisoformat(change_key).date(), time(23, 59), tzinfo=utcnow().tzinfo)


async def content_of(
    session: AsyncSession, ring: KeyRing, base_url: str, mail_id: uuid.UUID
) -> tuple[MailOutbox, Mail | None] | None:
    """An outbox row and its mail as it was (or will be) sent: rendered from what the database holds now,
    the expiry counted from the send; an invitation's button carries its link while the link is open."""
    found = (
        await session.execute(
            select(MailOutbox, Organization.name, WhatsAppConnection.token_expires_at, Invitation)
            .join(Organization, Organization.id == MailOutbox.organization_id)
            .outerjoin(WhatsAppConnection, WhatsAppConnection.id == MailOutbox.connection_id)
            .outerjoin(Invitation, Invitation.id == MailOutbox.invitation_id)
            .where(MailOutbox.id == mail_id)
        )
    ).one_or_none()
    if found is None:
        return None
    row, organization, token_expires_at, invitation = found
    link = None
    if row.kind is MailKind.INVITATION:
        token = unseal(ring, invitation, "token") if invitation is not None else None
        if token is None:
            return row, None
        link = f"{base_url.rstrip('/')}/convite/{token}"
    mail = render_mail(
        row.kind,
        organization=organization,
        base_url=base_url,
        expires_at=expiry_of(row.kind, row.change_key, token_expires_at),
        now=row.sent_at or utcnow(),
        link=link,
    )
    return row, mail


def _due() -> tuple[ColumnElement[bool], ...]:
    return (
        MailOutbox.status == MailStatus.PENDING,
        lease_free(MailOutbox.lease_expires_at),
        not_before(MailOutbox.next_attempt_at),
    )


async def _claim_one(runtime: Runtime) -> Claimed | None:
    """The oldest due mail, held for one send (the lease outlasts the SMTP timeout)."""
    async with runtime.sessionmaker() as session, session.begin():
        candidates = spread(
            select(MailOutbox.id).where(*_due()).order_by(MailOutbox.created_at).limit(5), runtime
        )
        for mail_id in list(await session.scalars(candidates)):
            holder = new_holder(runtime.owner)
            claim = (
                update(MailOutbox)
                .where(MailOutbox.id == mail_id, *_due())
                .values(lease_owner=holder, lease_expires_at=database_now(RETRY.lease))
            )
            if await compare_and_set(session, claim):
                return await _load(runtime, session, mail_id, holder)
    return None


async def _load(runtime: Runtime, session: AsyncSession, mail_id: uuid.UUID, holder: str) -> Claimed:
    found = await content_of(session, runtime.ring, runtime.settings.base_url, mail_id)
    assert found is not None  # claimed in this transaction
    row, content = found
    return Claimed(row.id, holder, row.kind, row.recipient, content)


async def _send(runtime: Runtime, sink: MailSink, mail: Claimed) -> str | None:
    """None when the server took it, else the error's type (never its text: it may quote credentials)."""
    try:
        if mail.content is None:
            raise InvitationClosed
        message = compose(
            mail.content,
            sender=runtime.settings.mail_from,
            recipient=mail.recipient,
            message_key=str(mail.id),
        )
        await sink.send(message)
    except Exception as error:  # every failure is retried later; the row keeps its type for support
        return type(error).__name__
    return None


async def _record(runtime: Runtime, mail: Claimed, error: str | None) -> MailOutcome | None:
    async with runtime.sessionmaker() as session, session.begin():
        attempts = await session.scalar(select(MailOutbox.attempts).where(MailOutbox.id == mail.id)) or 0
        released: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "attempts": attempts + 1}
        if error is None:
            outcome = MailOutcome.SENT
            values = released | {"status": MailStatus.SENT, "sent_at": utcnow(), "error": None}
        elif RETRY.exhausted(attempts + 1) or error == InvitationClosed.__name__:
            outcome = MailOutcome.FAILED
            values = released | {"status": MailStatus.FAILED, "error": error}
        else:
            outcome = MailOutcome.RETRY
            values = released | {"error": error, "next_attempt_at": database_now(RETRY.delay(attempts + 1))}
        won = await compare_and_set(
            session,
            update(MailOutbox)
            .where(MailOutbox.id == mail.id, MailOutbox.lease_owner == mail.holder)
            .values(**values),
        )
    return outcome if won else None


async def deliver_mail(runtime: Runtime, *, sink: MailSink | None = None, limit: int = BATCH) -> int:
    """Send what is due, one claim at a time; returns how many mails the server accepted. A failure ends
    the round: the server is likely down, and the rest wait for the next round rather than each time out."""
    sink = sink or sink_for(runtime.settings)
    sent = 0
    for _ in range(limit):
        mail = await _claim_one(runtime)
        if mail is None:
            break
        error = await _send(runtime, sink, mail)
        outcome = await _record(runtime, mail, error)
        if outcome is None:
            log.warning("mail.lease_lost", mail_id=str(mail.id))
            break
        mail_metrics.delivered(mail.kind.value, outcome)
        if outcome is not MailOutcome.SENT:
            log.warning(
                "mail.not_sent", mail_id=str(mail.id), kind=mail.kind.value, error=error, outcome=outcome
            )
            break
        sent += 1
    return sent


JOB = Job("mail.deliver", deliver_mail, interval=2.0)
