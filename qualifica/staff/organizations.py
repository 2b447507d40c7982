"""What staff see of one agency during a guided activation (ARCHITECTURE §17): the list of organizations and
one organization's timeline — attempts with their steps, errors with the catalogue's hint (what to tell the
customer), Meta's webhooks, audit entries, mails and analytics events, newest first.

Every query names the organization; nothing of another one is read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, User
from qualifica.audit import AuditEntry
from qualifica.observability.models import AnalyticsEvent
from qualifica.webhooks.models import WebhookChange
from qualifica.whatsapp.mail.models import MailOutbox, MailStatus
from qualifica.whatsapp.mail.render import SUBJECTS
from qualifica.whatsapp.models import AttemptStatus, EmbeddedSignupAttempt, WhatsAppConnection
from qualifica.whatsapp.status import attempt_error
from qualifica.whatsapp.steps import progress_text

PER_SOURCE = 100  # newest rows read from each source; the timeline shows them merged
LISTED = 200
NO_CONNECTION = "not_connected"

ENDINGS = {
    AttemptStatus.COMPLETED: "Conexão concluída",
    AttemptStatus.CANCELLED: "Cancelada pelo administrador",
    AttemptStatus.FAILED: "Falhou",
    AttemptStatus.EXPIRED: "Expirou sem terminar",
}
STATUS_LABELS = {
    "active": "Conectado",
    "error": "Com erro",
    "disconnected": "Desconectado",
    NO_CONNECTION: "Sem conexão",
}
MAIL_STATUS = {MailStatus.PENDING: "na fila", MailStatus.SENT: "enviado", MailStatus.FAILED: "falhou"}


@dataclass(frozen=True)
class OrganizationRow:
    id: uuid.UUID
    name: str
    status: str
    phone: str | None
    last_attempt: EmbeddedSignupAttempt | None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def ending(self) -> str:
        attempt = self.last_attempt
        if attempt is None:
            return "—"
        ending = ENDINGS.get(attempt.status, "Em andamento")
        if attempt.status is AttemptStatus.FAILED and attempt.error_code:
            return f"{ending} ({attempt.error_code})"
        if attempt.status is AttemptStatus.CANCELLED and attempt.step_cancelled:
            return f"{ending} na etapa {attempt.step_cancelled}"
        return ending


async def organizations(
    session: AsyncSession, *, query: str = "", status: str = "", limit: int = LISTED
) -> list[OrganizationRow]:
    """One line per organization (name contains ``query``, case-insensitive; ``status`` its connection's)."""
    statement = (
        select(Organization, WhatsAppConnection)
        .outerjoin(WhatsAppConnection, WhatsAppConnection.organization_id == Organization.id)
        .order_by(Organization.name)
        .limit(limit)
    )
    if query.strip():
        statement = statement.where(func.lower(Organization.name).contains(query.strip().lower()))
    if status == NO_CONNECTION:
        statement = statement.where(WhatsAppConnection.id.is_(None))
    elif status:
        statement = statement.where(WhatsAppConnection.status == status)
    rows = (await session.execute(statement)).all()
    ids = [organization.id for organization, _ in rows]
    newest = (
        select(EmbeddedSignupAttempt.organization_id, func.max(EmbeddedSignupAttempt.created_at).label("at"))
        .where(EmbeddedSignupAttempt.organization_id.in_(ids))
        .group_by(EmbeddedSignupAttempt.organization_id)
        .subquery()
    )
    last = {
        attempt.organization_id: attempt
        for attempt in await session.scalars(
            select(EmbeddedSignupAttempt).join(
                newest,
                (newest.c.organization_id == EmbeddedSignupAttempt.organization_id)
                & (newest.c.at == EmbeddedSignupAttempt.created_at),
            )
        )
    }
    return [
        OrganizationRow(
            organization.id,
            organization.name,
            connection.status.value if connection is not None else NO_CONNECTION,
            connection.display_phone_number if connection is not None else None,
            last.get(organization.id),
        )
        for organization, connection in rows
    ]


@dataclass(frozen=True)
class Entry:
    """One line of the timeline."""

    at: datetime
    source: str  # attempt, step, webhook, audit, mail, analytics
    title: str
    detail: str | None = None
    hint: str | None = None  # the catalogue's: what to tell the customer
    tone: str = "neutral"  # ok, error, warn, neutral


def _attempt_entries(attempt: EmbeddedSignupAttempt, emails: dict[uuid.UUID, str]) -> list[Entry]:
    who = emails.get(attempt.user_id) if attempt.user_id else None
    entries = [Entry(attempt.started_at, "attempt", "Conexão iniciada", f"por {who}" if who else None)]
    for mark in attempt.step_times or []:
        if isinstance(mark, dict) and mark.get("at"):
            step = str(mark.get("step"))
            entries.append(
                Entry(datetime.fromisoformat(str(mark["at"])), "step", progress_text(step) or step)
            )
    if attempt.finished_at is not None and attempt.status in ENDINGS:
        error = attempt.status is AttemptStatus.FAILED
        detail, hint = None, None
        if error:  # what the admin was told: its stable code, message and the catalogue's hint
            told = attempt_error(attempt)
            step = f" na etapa {attempt.step_failed}" if attempt.step_failed else ""
            detail, hint = f"{told.code}{step}: {told.message}", told.hint
        elif attempt.status is AttemptStatus.CANCELLED:
            detail = f"na etapa {attempt.step_cancelled}" if attempt.step_cancelled else None
        elif attempt.status is AttemptStatus.COMPLETED:
            detail = f"WABA {attempt.waba_id}" if attempt.waba_id else None
        tone = {AttemptStatus.COMPLETED: "ok", AttemptStatus.FAILED: "error"}.get(attempt.status, "warn")
        entries.append(Entry(attempt.finished_at, "attempt", ENDINGS[attempt.status], detail, hint, tone))
    return entries


def _webhook_entry(change: WebhookChange) -> Entry:
    value = change.value if isinstance(change.value, dict) else {}
    event = (
        value.get("event") or (value.get("messages") and "mensagem") or (value.get("statuses") and "status")
    )
    title = f"Aviso da Meta: {change.field}" + (f" · {event}" if isinstance(event, str) else "")
    return Entry(change.received_at, "webhook", title, change.outcome, tone="neutral")


def _mail_entry(mail: MailOutbox, organization: str) -> Entry:
    subject = SUBJECTS[mail.kind].format(organization=organization, days="…")
    tone = {MailStatus.SENT: "ok", MailStatus.FAILED: "error"}.get(mail.status, "neutral")
    detail = f"para {mail.recipient} · {MAIL_STATUS[mail.status]}" + (
        f" ({mail.error})" if mail.error else ""
    )
    return Entry(mail.created_at, "mail", f"E-mail: {subject}", detail, tone=tone)


def _audit_entry(entry: AuditEntry) -> Entry:
    details = entry.details or {}
    shown = ", ".join(f"{key}={value}" for key, value in sorted(details.items()) if value not in (None, ""))
    tone = "error" if entry.status not in ("success", "ok") else "neutral"
    return Entry(entry.created_at, "audit", f"Auditoria: {entry.action}", shown or None, tone=tone)


def _analytics_entry(event: AnalyticsEvent) -> Entry:
    properties = event.properties or {}
    shown = ", ".join(f"{key}={value}" for key, value in sorted(properties.items()))
    return Entry(event.occurred_at, "analytics", f"Evento: {event.name}", shown or None)


async def timeline(session: AsyncSession, organization: Organization) -> list[Entry]:
    """Everything that happened to the organization's connection, newest first."""
    org_id = organization.id
    emails = dict(
        (await session.execute(select(User.id, User.email).where(User.organization_id == org_id))).all()
    )

    async def newest(model: Any, moment: Any) -> list[Any]:
        """The organization's newest rows of one source (each source has its organization and a moment)."""
        statement = select(model).where(model.organization_id == org_id).order_by(moment.desc())
        return list(await session.scalars(statement.limit(PER_SOURCE)))

    attempts = await newest(EmbeddedSignupAttempt, EmbeddedSignupAttempt.created_at)
    entries = [entry for attempt in attempts for entry in _attempt_entries(attempt, emails)]
    entries += [_webhook_entry(change) for change in await newest(WebhookChange, WebhookChange.received_at)]
    entries += [_audit_entry(entry) for entry in await newest(AuditEntry, AuditEntry.created_at)]
    mails = await newest(MailOutbox, MailOutbox.created_at)
    entries += [_mail_entry(mail, organization.name) for mail in mails]
    events = await newest(AnalyticsEvent, AnalyticsEvent.occurred_at)
    entries += [_analytics_entry(event) for event in events]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)
