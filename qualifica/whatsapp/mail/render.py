"""The pt-BR mails (ARCHITECTURE §16): subject, text part and HTML part, from Jinja templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from qualifica.templating import TEMPLATES_DIR
from qualifica.whatsapp.mail.models import MailKind

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR / "mail"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
SUBJECTS = {
    MailKind.DISCONNECTED: "Ação necessária: o WhatsApp da {organization} está desconectado",
    MailKind.EXPIRING: "A conexão do WhatsApp da {organization} expira em {days} dias",
    MailKind.RECONNECTED: "O WhatsApp da {organization} está conectado de novo",
    MailKind.INVITATION: "Ative o Qualifica Leads da {organization}",
}


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until expiry, rounded up and at least 1 (a mail never says it expires in 0 days)."""
    return max(1, -(-int((expires_at - now).total_seconds()) // 86400))


def render_mail(
    kind: MailKind,
    *,
    organization: str,
    base_url: str,
    expires_at: datetime | None = None,
    now: datetime | None = None,
    link: str | None = None,
) -> Mail:
    """``link``: where the button goes; the connection's settings page unless given (the invitation's)."""
    days = days_left(expires_at, now) if expires_at is not None and now is not None else 0
    context = {
        "organization": organization,
        "link": link or base_url.rstrip("/") + "/settings/whatsapp",
        "days": days,
        "expires_on": f"{expires_at:%d/%m/%Y}" if expires_at is not None else "",
    }
    subject = SUBJECTS[kind].format(organization=organization, days=days)
    return Mail(
        subject=subject,
        text=_ENV.get_template(f"{kind.value}.txt").render(context),
        html=_ENV.get_template(f"{kind.value}.html").render(context | {"subject": subject}),
    )
