"""The local outbox ``/_sandbox/mail`` (demo mode only): every mail the service wrote, as its admins read it.

Mounted only with the sandbox, which itself runs only on a loopback address: the page shows every
organization's mails, as a developer's mail catcher would. Each mail is rendered from its outbox row exactly
as ``mail.deliver`` sends it. The HTML part is served on its own, under a policy that lets its inline
styles apply and nothing run, and framed by the mail's page.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from qualifica.deps import SessionDep
from qualifica.errors import NotFound
from qualifica.templating import render
from qualifica.whatsapp.mail.delivery import content_of
from qualifica.whatsapp.mail.models import MailOutbox
from qualifica.whatsapp.mail.render import Mail

MAIL_PAGE = "/_sandbox/mail"
LISTED = 200  # the newest; a demo never holds more
# The mail's own HTML: its inline styles, no script, no request anywhere, framed only by our page.
HTML_PART_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'",
    "x-frame-options": "SAMEORIGIN",
}

router = APIRouter(include_in_schema=False)


async def _mail(session: SessionDep, request: Request, mail_id: uuid.UUID) -> tuple[MailOutbox, Mail | None]:
    runtime = request.app.state.runtime
    found = await content_of(session, runtime.ring, runtime.settings.base_url, mail_id)
    if found is None:
        raise NotFound()
    return found


@router.get(MAIL_PAGE, response_class=HTMLResponse)
async def outbox(request: Request, session: SessionDep) -> HTMLResponse:
    newest = select(MailOutbox.id).order_by(MailOutbox.created_at.desc(), MailOutbox.recipient)
    mails = [
        await _mail(session, request, mail_id) for mail_id in await session.scalars(newest.limit(LISTED))
    ]
    smtp = request.app.state.settings.smtp_url is not None
    return render(request, "sandbox_mail.html", {"mails": mails, "smtp": smtp})


@router.get(MAIL_PAGE + "/{mail_id}", response_class=HTMLResponse)
async def one_mail(mail_id: uuid.UUID, request: Request, session: SessionDep) -> HTMLResponse:
    row, mail = await _mail(session, request, mail_id)
    return render(request, "sandbox_mail_view.html", {"row": row, "mail": mail})


@router.get(MAIL_PAGE + "/{mail_id}/html", response_class=HTMLResponse)
async def html_part(mail_id: uuid.UUID, request: Request, session: SessionDep) -> HTMLResponse:
    _, mail = await _mail(session, request, mail_id)
    if mail is None:
        raise NotFound()
    return HTMLResponse(mail.html, headers=HTML_PART_HEADERS)
