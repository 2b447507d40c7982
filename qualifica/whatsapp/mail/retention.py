"""``mail.retention``: settled mails (sent, or failed past their attempts) go after ``RETENTION_MAIL_DAYS``.

A pending mail is never touched, however old: it is still owed to someone. Deleting a settled row cannot
bring its mail back: the change it was for is in the past (a fall into error is keyed by its moment, an
expiry by its date).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.db import utcnow
from qualifica.jobs.retention import BATCH, IDLE_SECONDS, cutoff, deleted, purge_batch
from qualifica.jobs.runner import Job
from qualifica.runtime import Runtime
from qualifica.whatsapp.mail.models import MailOutbox, MailStatus


async def purge_settled_mails(runtime: Runtime, *, now: datetime | None = None, limit: int = BATCH) -> int:
    before = cutoff(runtime.settings.retention_mail_days, now or utcnow())
    if before is None:
        return 0
    settled = and_(MailOutbox.status != MailStatus.PENDING, MailOutbox.created_at < before)

    async def remove(session: AsyncSession, ids: Sequence[uuid.UUID]) -> int:
        return deleted(await session.execute(delete(MailOutbox).where(MailOutbox.id.in_(ids), settled)))

    candidates = select(MailOutbox.id).where(settled).order_by(MailOutbox.created_at).limit(limit)
    return await purge_batch(runtime, candidates, remove)


JOB = Job("mail.retention", purge_settled_mails, interval=IDLE_SECONDS)
