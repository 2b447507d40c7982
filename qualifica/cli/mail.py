"""``qualifica mail list|resend``: support's view of the admins' mails (ARCHITECTURE §16) and the resend."""

from __future__ import annotations

import getpass
import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from qualifica.cli.common import fail, load_settings, run, with_session

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from qualifica.whatsapp.mail.models import MailOutbox

mail_app = typer.Typer(help="E-mails aos administradores (conexão do WhatsApp).", no_args_is_help=True)


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise fail(f"{what} deve ser um UUID") from None


def describe(mail: MailOutbox) -> str:
    stamp = mail.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    sent = mail.sent_at.strftime("%Y-%m-%dT%H:%M:%SZ") if mail.sent_at else "-"
    return (
        f"{mail.id}\t{stamp}\t{mail.kind.value}\t{mail.status.value}\tattempts={mail.attempts}\t"
        f"sent={sent}\terror={mail.error or '-'}\torg={mail.organization_id}\t{mail.recipient}"
    )


@mail_app.command("list")
def list_mails(
    status: Annotated[str | None, typer.Option(help="pending, sent ou failed")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Id da organização")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Quantos, os mais novos primeiro")] = 50,
) -> None:
    """Lista os e-mails (mais novos primeiro): id, criado, tipo, situação, tentativas, erro, destinatário."""
    from qualifica.whatsapp.mail.models import MailStatus
    from qualifica.whatsapp.mail.outbox import listed

    try:
        wanted = MailStatus(status) if status is not None else None
    except ValueError:
        raise fail("--status deve ser pending, sent ou failed") from None
    organization_id = _uuid(org, "--org") if org is not None else None

    async def work(session: AsyncSession) -> list[str]:
        mails = await listed(session, status=wanted, organization_id=organization_id, limit=limit)
        return [describe(mail) for mail in mails]

    for line in run(lambda: with_session(load_settings(), work)):
        typer.echo(line)


@mail_app.command()
def resend(mail_id: Annotated[str, typer.Argument(help="Id do e-mail (qualifica mail list)")]) -> None:
    """Põe o e-mail na fila de novo; o worker o envia na próxima rodada (auditado: mail.resent)."""
    from qualifica.whatsapp.mail.outbox import resend as queue_again

    wanted = _uuid(mail_id, "o id")
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        who = "unknown"

    async def work(session: AsyncSession) -> str | None:
        mail = await queue_again(session, wanted, actor=f"cli:{who}")
        return describe(mail) if mail is not None else None

    line = run(lambda: with_session(load_settings(), work))
    if line is None:
        raise fail("e-mail não encontrado (ou sendo enviado agora: tente de novo em alguns minutos)")
    typer.echo(line)
