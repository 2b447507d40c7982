"""The ``qualifica`` commands (see ARCHITECTURE §9)."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import secrets
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qualifica.cli.common import fail, load_settings, run, with_session
from qualifica.cli.flags import flag_app
from qualifica.cli.mail import mail_app

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from qualifica.accounts.models import User

app = typer.Typer(
    help="Qualifica Leads — conexão do WhatsApp Business.", no_args_is_help=True, add_completion=False
)
org_app = typer.Typer(help="Organizações (imobiliárias).", no_args_is_help=True)
user_app = typer.Typer(help="Usuários.", no_args_is_help=True)
keys_app = typer.Typer(help="Chaves de criptografia.", no_args_is_help=True)
meta_app = typer.Typer(help="Integração com a Meta.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(keys_app, name="keys")
app.add_typer(meta_app, name="meta")
app.add_typer(flag_app, name="flag")
app.add_typer(mail_app, name="mail")

DEMO_CREDENTIALS = Path("var") / "demo-credentials.json"


@app.command()
def migrate() -> None:
    """Aplica as migrações do banco de dados."""
    from qualifica.migrate import upgrade

    upgrade(load_settings().database_url)
    typer.echo("migrações aplicadas")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Endereço")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Porta")] = 8000,
) -> None:
    """Inicia o serviço web."""
    import uvicorn

    from qualifica.app import create_app

    uvicorn.run(
        create_app(load_settings(serving=True)), host=host, port=port, log_config=None, proxy_headers=False
    )


@app.command()
def worker() -> None:
    """Retoma conexões interrompidas e expira as abandonadas (rode quantos quiser)."""
    settings = load_settings(serving=True)

    async def work() -> None:
        import signal

        import httpx

        from qualifica.app import META_TIMEOUT, build_runtime
        from qualifica.db import create_engine, create_sessionmaker
        from qualifica.logging import configure_logging
        from qualifica.worker import run_worker

        configure_logging()
        engine = create_engine(settings.database_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with httpx.AsyncClient(timeout=META_TIMEOUT) as http:
            runtime = build_runtime(settings, create_sessionmaker(engine), http)
            try:
                await run_worker(runtime, stop)
            finally:
                await runtime.close()
                await engine.dispose()

    run(work)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Endereço")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Porta")] = 8000,
) -> None:
    """Modo demonstração: SQLite, sandbox da Meta, organização e administrador de exemplo."""
    import uvicorn

    from qualifica.app import create_app
    from qualifica.config import SANDBOX_PATH
    from qualifica.migrate import upgrade
    from qualifica.whatsapp.mail.pages import MAIL_PAGE

    base_url = os.environ.get("QUALIFICA_BASE_URL", f"http://{host}:{port}")
    settings = load_settings(serving=True, sandbox=True, base_url=base_url)
    upgrade(settings.database_url)
    email, password = run(lambda: with_session(settings, _seed_demo))
    typer.echo(f"URL: {base_url}\nE-mail: {email}\nSenha: {password}")
    # Without an SMTP server the admins' mails are only in the local outbox (and in .eml files).
    files = f" (arquivos .eml em {settings.mail_dir}/)" if settings.smtp_url is None else ""
    typer.echo(f"E-mails: {base_url}{MAIL_PAGE}{files}")
    typer.echo(f"Gerenciador do WhatsApp (sandbox): {base_url}{SANDBOX_PATH}/manager")
    sys.stdout.flush()
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, proxy_headers=False)


async def _seed_demo(session: AsyncSession) -> tuple[str, str]:
    from sqlalchemy import select

    from qualifica.accounts.models import Role, User
    from qualifica.accounts.service import create_organization, create_user, set_password
    from qualifica.devsecrets import keep_private, write_private
    from qualifica.security.passwords import verify_password

    if DEMO_CREDENTIALS.exists():
        keep_private(DEMO_CREDENTIALS)
    stored = json.loads(DEMO_CREDENTIALS.read_text()) if DEMO_CREDENTIALS.exists() else {}
    email = stored.get("email", "admin@demo.qualifica.local")
    password = stored.get("password") or secrets.token_urlsafe(12)
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        organization = await create_organization(session, name="Imobiliária Demonstração")
        await create_user(
            session, organization_id=organization.id, email=email, role=Role.ADMIN, password=password
        )
    elif not await verify_password(user.password_hash, password):
        await set_password(session, user=user, password=password)
    write_private(DEMO_CREDENTIALS, json.dumps({"email": email, "password": password}))
    return email, password


@org_app.command("create")
def org_create(name: Annotated[str, typer.Argument(help="Nome da organização")]) -> None:
    """Cria uma organização e imprime o id."""
    from qualifica.accounts.service import create_organization

    if not name.strip():
        raise fail("o nome da organização não pode ser vazio")

    async def work(session: AsyncSession) -> uuid.UUID:
        return (await create_organization(session, name=name)).id

    typer.echo(str(run(lambda: with_session(load_settings(), work))))


@org_app.command("invite")
def org_invite(
    org: Annotated[str, typer.Option("--org", help="Id da organização")],
    email: Annotated[str, typer.Option("--email", help="E-mail do administrador convidado")],
) -> None:
    """Convida o administrador da organização (e-mail com o link); imprime o link na última linha."""
    from qualifica.security.crypto import KeyRing
    from qualifica.whatsapp.activation import invite

    try:
        organization_id = uuid.UUID(org)
    except ValueError:
        raise fail("--org deve ser um UUID") from None
    settings = load_settings()
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        who = "unknown"

    async def work(session: AsyncSession) -> str:
        ring = KeyRing.from_pairs(settings.key_ring)
        _, link = await invite(
            session, ring, settings, organization_id=organization_id, email=email, invited_by=f"cli:{who}"
        )
        return link

    link = run(lambda: with_session(settings, work))
    typer.echo(f"Convite enviado para {email.strip().lower()} (vale 72 horas).")
    typer.echo(link)


@user_app.command("create")
def user_create(
    org: Annotated[str, typer.Option("--org", help="Id da organização")],
    email: Annotated[str, typer.Option("--email", help="E-mail")],
    role: Annotated[str, typer.Option("--role", help="admin | member | staff")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Lê a senha da entrada padrão")
    ] = False,
) -> None:
    """Cria um usuário (senha pela entrada padrão) e imprime o id."""
    from qualifica.accounts.models import Role
    from qualifica.accounts.service import create_user

    try:
        organization_id, user_role = uuid.UUID(org), Role(role)
    except ValueError:
        raise fail("--org deve ser um UUID e --role um de admin, member, staff") from None
    if not password_stdin:
        raise fail("informe a senha pela entrada padrão com --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")

    async def work(session: AsyncSession) -> uuid.UUID:
        user = await create_user(
            session,
            organization_id=organization_id,
            email=email,
            role=user_role,
            password=password,
        )
        return user.id

    typer.echo(str(run(lambda: with_session(load_settings(), work))))


@user_app.command("password")
def user_password(
    email: Annotated[str, typer.Option("--email", help="E-mail")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Lê a senha da entrada padrão")
    ] = False,
) -> None:
    """Troca a senha de um usuário (pela entrada padrão) e encerra todas as sessões dele."""
    from qualifica.accounts.service import set_password

    if not password_stdin:
        raise fail("informe a senha pela entrada padrão com --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")

    async def work(session: AsyncSession) -> uuid.UUID:
        user = await _user_by_email(session, email)
        await set_password(session, user=user, password=password)
        return user.id

    typer.echo(str(run(lambda: with_session(load_settings(), work))))


@user_app.command("role")
def user_role(
    email: Annotated[str, typer.Option("--email", help="E-mail")],
    role: Annotated[str, typer.Option("--role", help="admin | member | staff")],
) -> None:
    """Muda o papel de um usuário e encerra todas as sessões dele."""
    from qualifica.accounts.models import Role
    from qualifica.accounts.service import set_role

    try:
        new_role = Role(role)
    except ValueError:
        raise fail("--role deve ser um de admin, member, staff") from None

    async def work(session: AsyncSession) -> uuid.UUID:
        user = await _user_by_email(session, email)
        await set_role(session, user=user, role=new_role)
        return user.id

    typer.echo(str(run(lambda: with_session(load_settings(), work))))


async def _user_by_email(session: AsyncSession, email: str) -> User:
    from sqlalchemy import select

    from qualifica.accounts.models import User
    from qualifica.accounts.service import normalize_email

    user = await session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise fail("usuário não encontrado")
    return user


@keys_app.command("generate")
def keys_generate(kid: Annotated[str, typer.Option(help="Id da nova chave")] = "") -> None:
    """Gera uma chave AES-256 no formato de QUALIFICA_ENCRYPTION_KEYS."""
    from qualifica.security.crypto import generate_key

    key_id = kid or "k" + secrets.token_hex(3)
    if not key_id.isalnum():
        raise fail("o id da chave deve ser alfanumérico")
    typer.echo(f"{key_id}:{generate_key()}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Recriptografa todos os segredos guardados com a chave primária (pode ser repetido com segurança)."""
    import qualifica.models  # noqa: F401  (every table registered: rotation walks their sealed columns)
    from qualifica.db import create_engine, create_sessionmaker
    from qualifica.security.crypto import KeyRing
    from qualifica.security.rotation import rotate_all

    settings = load_settings()

    async def work() -> str:
        engine = create_engine(settings.database_url)
        try:
            report = await rotate_all(create_sessionmaker(engine), KeyRing.from_pairs(settings.key_ring))
        finally:
            await engine.dispose()
        return f"recriptografados: {report.rotated}; já na chave primária: {report.already_current}"

    typer.echo(run(work))


@meta_app.command("check")
def meta_check() -> None:
    """Verifica o app da Meta, a configuração e o webhook; sai com 1 se algo falhar."""
    from qualifica.preflight import run_checks

    checks = run(lambda: run_checks(load_settings()))
    for check in checks:
        typer.echo(check.line())
    if not all(check.ok for check in checks):
        raise typer.Exit(code=1)


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Endereço")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Porta")] = 8900,
) -> None:
    """Executa somente o sandbox da Meta (para testes e demonstrações)."""
    from qualifica.config import is_loopback_url
    from qualifica.meta.sandbox.cli import run_sandbox

    if not is_loopback_url(f"http://{host if ':' not in host else f'[{host}]'}"):
        # Its control API hands out recorded secrets: only this machine may reach it.
        raise fail("o sandbox só escuta em endereço local (127.0.0.1, ::1 ou localhost)")

    run_sandbox(host=host, port=port)
