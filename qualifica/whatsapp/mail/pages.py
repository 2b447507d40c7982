"""The local outbox ``/_sandbox/mail`` (demo mode only): every mail the service wrote, as its admins read it.

Mounted only with the sandbox, which itself runs only on a loopback address: the page shows every
organization's mails, as a developer's mail catcher would. Each mail is rendered from its outbox row exactly
as ``mail.deliver`` sends it. The HTML part is served on its own, under a policy that lets its inline
styles apply and nothing run, and framed by the mail's page.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Select, select

from qualifica.accounts.models import Organization
from qualifica.deps import SessionDep
from qualifica.errors import NotFound
from qualifica.templating import render
from qualifica.whatsapp.mail.delivery import rendered
from qualifica.whatsapp.mail.models import MailOutbox
from qualifica.whatsapp.mail.render import Mail
from qualifica.whatsapp.models import WhatsAppConnection

MAIL_PAGE = "/_sandbox/mail"
LISTED = 200  # the newest; a demo never holds more
# The mail's own HTML: its inline styles, no script, no request anywhere, framed only by our page.
HTML_PART_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'",
    "x-frame-options": "SAMEORIGIN",
}

router = APIRouter(include_in_schema=False)


def _with_what_renders_them() -> Select[MailOutbox, str, datetime | None]:
    return (
        select(MailOutbox, Organization.name, WhatsAppConnection.token_expires_at)
        .join(Organization, Organization.id == MailOutbox.organization_id)
        .join(WhatsAppConnection, WhatsAppConnection.id == MailOutbox.connection_id)
    )


async def _mail(session: SessionDep, request: Request, mail_id: uuid.UUID) -> tuple[MailOutbox, Mail]:
    found = (await session.execute(_with_what_renders_them().where(MailOutbox.id == mail_id))).one_or_none()
    if found is None:
        raise NotFound()
    row, organization, expires_at = found
    return row, rendered(row, organization, expires_at, request.app.state.settings.base_url)


@router.get(MAIL_PAGE, response_class=HTMLResponse)
async def outbox(request: Request, session: SessionDep) -> HTMLResponse:
    newest = _with_what_renders_them().order_by(MailOutbox.created_at.desc(), MailOutbox.recipient)
    rows = (await session.execute(newest.limit(LISTED))).all()
    settings = request.app.state.settings
    mails = [(row, rendered(row, name, expires_at, settings.base_url)) for row, name, expires_at in rows]
    return render(request, "sandbox_mail.html", {"mails": mails, "smtp": settings.smtp_url is not None})


@router.get(MAIL_PAGE + "/{mail_id}", response_class=HTMLResponse)
async def one_mail(mail_id: uuid.UUID, request: Request, session: SessionDep) -> HTMLResponse:
    row, mail = await _mail(session, request, mail_id)
    return render(request, "sandbox_mail_view.html", {"row": row, "mail": mail})


@router.get(MAIL_PAGE + "/{mail_id}/html", response_class=HTMLResponse)
async def html_part(mail_id: uuid.UUID, request: Request, session: SessionDep) -> HTMLResponse:
    _, mail = await _mail(session, request, mail_id)
    return HTMLResponse(mail.html, headers=HTML_PART_HEADERS)
