"""The three mails of §16: exact subjects, the organization, what happened, what to do, the link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qualifica.whatsapp.mail.models import MailKind
from qualifica.whatsapp.mail.render import render_mail

BASE = "https://app.qualifica.example"
LINK = "https://app.qualifica.example/settings/whatsapp"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
ORG = "Imobiliária <Aurora> & Filhos"


@pytest.mark.parametrize(
    ("kind", "subject", "says"),
    [
        (
            MailKind.DISCONNECTED,
            f"Ação necessária: o WhatsApp da {ORG} está desconectado",
            "clique em Reconectar",
        ),
        (MailKind.EXPIRING, f"A conexão do WhatsApp da {ORG} expira em 3 dias", "reconecte antes dessa data"),
        (MailKind.RECONNECTED, f"O WhatsApp da {ORG} está conectado de novo", "está conectado de novo"),
    ],
)
def test_each_mail_has_its_exact_subject_both_parts_and_the_link(
    kind: MailKind, subject: str, says: str
) -> None:
    mail = render_mail(
        kind, organization=ORG, base_url=BASE + "/", expires_at=NOW + timedelta(days=3), now=NOW
    )
    assert mail.subject == subject
    assert ORG in mail.text and LINK in mail.text and says in mail.text
    assert "Imobiliária &lt;Aurora&gt; &amp; Filhos" in mail.html and ORG not in mail.html  # escaped
    assert f'href="{LINK}"' in mail.html and says in mail.html


def test_the_expiring_mail_names_the_date_and_rounds_days_up() -> None:
    mail = render_mail(
        MailKind.EXPIRING, organization="Aurora", base_url=BASE, expires_at=NOW + timedelta(hours=30), now=NOW
    )
    assert mail.subject == "A conexão do WhatsApp da Aurora expira em 2 dias"
    assert "06/12/2026" in mail.text


@pytest.mark.parametrize("kind", list(MailKind))
def test_each_mail_reads_without_images_and_in_dark_mode(kind: MailKind) -> None:
    mail = render_mail(kind, organization=ORG, base_url=BASE, expires_at=NOW + timedelta(days=3), now=NOW)
    html = mail.html
    assert "<img" not in html and "background-image" not in html and "url(" not in html  # nothing to block
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html
    assert 'lang="pt-BR"' in html and f"<title>{mail.subject}" in html.replace("&lt;", "<").replace(
        "&gt;", ">"
    ).replace("&amp;", "&")
    # The link is written out in words too, for clients that show the button as plain text.
    assert html.count(f'href="{LINK}"') == 2 and f">{LINK}</a>" in html
