"""``qualifica flag set|clear|list``: the rollout and rollback switches (ARCHITECTURE §9–10)."""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from qualifica.cli.common import fail, load_settings, run, with_session

T = TypeVar("T")

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from qualifica.staff.flags import Actor, FlagRow

flag_app = typer.Typer(
    help="Feature flags (padrão global, por organização, porcentagem).", no_args_is_help=True
)

OrgOption = Annotated[str | None, typer.Option("--org", help="Id da organização (override)")]


def _actor() -> Actor:
    from qualifica.staff.flags import Actor

    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        who = "unknown"
    return Actor(label=f"cli:{who}")


def _org(raw: str | None) -> uuid.UUID | None:
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise fail("--org deve ser um UUID") from None


def _execute(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = load_settings()
    return run(lambda: with_session(settings, work))


def describe(row: FlagRow) -> str:
    scope = (
        "global" if row.organization_id is None else f"org {row.organization_id} ({row.organization_name})"
    )
    state = {True: "on", False: "off", None: "-"}[row.enabled]
    percent = "-" if row.rollout_percent is None else f"{row.rollout_percent}%"
    stamp = row.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{row.key}\t{scope}\t{state}\tpercent={percent}\t{stamp}\t{row.updated_by or '-'}"


@flag_app.command("set")
def flag_set(
    key: Annotated[str, typer.Argument(help="Nome da flag")],
    state: Annotated[str | None, typer.Argument(help="on | off")] = None,
    org: OrgOption = None,
    percent: Annotated[
        int | None, typer.Option("--percent", help="0–100: liga para esse % das organizações")
    ] = None,
) -> None:
    """Liga/desliga o padrão global, o override de uma organização (--org) ou a porcentagem (--percent)."""
    from qualifica.staff import flags

    if state is not None and state not in {"on", "off"}:
        raise fail("o estado deve ser on ou off")
    if state is None and percent is None:
        raise fail("informe on, off ou --percent N")
    if org is not None and (percent is not None or state is None):
        raise fail("com --org informe on ou off (a porcentagem é global)")
    if percent is not None and not 0 <= percent <= 100:
        raise fail("--percent deve estar entre 0 e 100")
    organization_id, actor = _org(org), _actor()

    async def work(session: AsyncSession) -> None:
        if state is not None:
            on = state == "on"
            await flags.set_enabled(session, key, enabled=on, organization_id=organization_id, actor=actor)
        if percent is not None:
            await flags.set_percent(session, key, percent=percent, actor=actor)

    _execute(work)
    typer.echo(f"{key}: ok")


@flag_app.command("clear")
def flag_clear(
    key: Annotated[str, typer.Argument(help="Nome da flag")],
    org: OrgOption = None,
    percent: Annotated[bool, typer.Option("--percent", help="Remove a porcentagem")] = False,
) -> None:
    """Remove o override de uma organização (--org), a porcentagem (--percent) ou o padrão global."""
    from qualifica.staff import flags

    organization_id, actor = _org(org), _actor()

    async def work(session: AsyncSession) -> bool:
        return await flags.clear(session, key, organization_id=organization_id, percent=percent, actor=actor)

    removed = _execute(work)
    typer.echo(f"{key}: {'removido' if removed else 'nada a remover'}")


@flag_app.command("list")
def flag_list() -> None:
    """Lista as flags conhecidas e cada configuração guardada."""
    from qualifica.flags import KNOWN_FLAGS
    from qualifica.staff import flags

    async def work(session: AsyncSession) -> list[FlagRow]:
        return await flags.list_flags(session)

    rows = _execute(work)
    for key in KNOWN_FLAGS:
        mine = [row for row in rows if row.key == key]
        if not any(row.organization_id is None for row in mine):
            typer.echo(f"{key}\tglobal\tdefault (off em produção, on fora dela)\tpercent=-\t-\t-")
        for row in mine:
            typer.echo(describe(row))
