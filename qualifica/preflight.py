"""``qualifica meta check``: the Meta settings an operator gets wrong, checked before a deploy.

Each check answers OK or FALHA with the fix in pt-BR. The same list is shown on the ops page.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import httpx

from qualifica.config import WEBHOOK_PATH, Settings, is_placeholder, parse_key_ring
from qualifica.meta.client import GraphClient
from qualifica.meta.credentials import effective_credentials
from qualifica.meta.errors import MetaError
from qualifica.meta.models import AppCheck
from qualifica.meta.versions import Standing, major, newest, version_status
from qualifica.meta.webhook_subscription import COEXISTENCE_FIELDS, SUBSCRIBED_FIELDS, WEBHOOK_OBJECT

CHECK_SECONDS = 15.0
VERSION_CHECK = "Versão da Graph API"
VERSION_SETTING = "QUALIFICA_META_GRAPH_VERSION"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    fix: str = ""
    warning: str = ""  # passes, but someone must act soon

    def line(self) -> str:
        if not self.ok:
            return f"FALHA  {self.name} — {self.fix}"
        return f"AVISO  {self.name} — {self.warning}" if self.warning else f"OK     {self.name}"


def _check(name: str, ok: bool, fix: str) -> Check:
    return Check(name, ok, "" if ok else fix)


def _public_https(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" or not host or host == "localhost" or host.endswith(".local"):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return address.is_global


def check_version(name: str, *, today: date | None = None) -> Check:
    """The configured Graph version against Meta's calendar: past its end fails, within 90 days warns."""
    status = version_status(name, today=today)
    latest = newest().name
    if status.standing is Standing.ENDED and status.ends:
        return Check(
            VERSION_CHECK,
            False,
            f"a Meta deixou de atender a {name} em {status.ends:%d/%m/%Y}: use {latest} em {VERSION_SETTING}",
        )
    if status.standing is Standing.ENDING_SOON and status.ends:
        days = (status.ends - (today or date.today())).days
        return Check(
            VERSION_CHECK,
            True,
            warning=f"a {name} deixa de funcionar em {status.ends:%d/%m/%Y} (faltam {days} dias): "
            f"passe para {latest} em {VERSION_SETTING}",
        )
    if status.standing is Standing.UNKNOWN:
        number = major(name)
        if number is not None and number > (major(latest) or 0):
            return Check(
                VERSION_CHECK, True, warning=f"a {name} é mais nova que o calendário de versões conhecido"
            )
        return Check(
            VERSION_CHECK, False, f"use uma versão vigente no formato vNN.0 ({latest}) em {VERSION_SETTING}"
        )
    return Check(VERSION_CHECK, True)


def check_local(settings: Settings, *, today: date | None = None) -> list[Check]:
    """What can be judged from the settings alone (``today``: the date the version calendar is read on)."""
    credentials = effective_credentials(settings)
    keys_ok = not is_placeholder(settings.encryption_keys)
    if keys_ok and settings.encryption_keys is not None:
        try:
            parse_key_ring(settings.encryption_keys.get_secret_value())
        except ValueError:
            keys_ok = False
    secret = settings.secret_key.get_secret_value() if settings.secret_key is not None else ""
    secret_ok = not is_placeholder(settings.secret_key) and len(secret) >= 32
    return [
        check_version(settings.meta_graph_version, today=today),
        _check(
            "ID da configuração do Embedded Signup",
            bool(re.fullmatch(r"\d{6,20}", credentials.config_id)),
            "copie o ID de Login do Facebook para Empresas › Configurações (só dígitos) para "
            "QUALIFICA_META_CONFIG_ID",
        ),
        _check(
            "Endereço público em HTTPS",
            _public_https(settings.base_url) or not settings.is_production,
            "QUALIFICA_BASE_URL precisa ser https:// com um domínio público; a Meta não entrega webhooks "
            "nem aceita o domínio do Embedded Signup de outra forma",
        ),
        _check(
            "Token de verificação do webhook",
            not is_placeholder(settings.meta_webhook_verify_token),
            "defina QUALIFICA_META_WEBHOOK_VERIFY_TOKEN com um valor aleatório e use o mesmo no painel "
            "da Meta",
        ),
        _check(
            "Chaves de criptografia",
            keys_ok,
            "gere uma chave com `qualifica keys generate` e defina QUALIFICA_ENCRYPTION_KEYS (id:chave)",
        ),
        _check(
            "Chave secreta da sessão",
            secret_ok,
            "defina QUALIFICA_SECRET_KEY com pelo menos 32 caracteres aleatórios",
        ),
    ]


async def check_meta(settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    """What needs Meta (or the sandbox) and our own public webhook URL."""
    graph = GraphClient.from_settings(settings, http)
    app: AppCheck | None = None
    app_fix = (
        "confira QUALIFICA_META_APP_ID e QUALIFICA_META_APP_SECRET no painel do app (Configurações › Básico)"
    )
    try:
        app = await graph.app_check(deadline=time.monotonic() + CHECK_SECONDS)
    except MetaError as error:
        if error.code == 101:
            app_fix = "QUALIFICA_META_APP_ID não é um app da Meta válido: copie o ID do app no painel"
        elif error.code == 1 or error.code == 190:
            app_fix = "a chave secreta não confere com o app: copie QUALIFICA_META_APP_SECRET do painel"
        elif error.code is None:
            app_fix = f"a Graph API não respondeu em {settings.meta_graph_url}: verifique a rede"
    checks = [_check("App da Meta (ID e chave secreta)", app is not None and app.is_valid, app_fix)]
    webhook_url = settings.base_url + WEBHOOK_PATH
    checks.append(await _handshake(settings, http, webhook_url))
    fields = set(app.webhook_fields) if app else set()
    callback_urls = {s.get("callback_url") for s in app.webhook_subscriptions} if app else set()
    usual = [field for field in SUBSCRIBED_FIELDS if field not in COEXISTENCE_FIELDS]
    missing = [field for field in usual if field not in fields]
    checks.append(
        _check(
            f"Assinatura de webhooks do app ({WEBHOOK_OBJECT})",
            app is not None and not missing and webhook_url in callback_urls,
            f"no painel do app › WhatsApp › Configuração, use a URL {webhook_url} e assine os campos "
            + ", ".join(missing or usual),
        )
    )
    # Subscribed before a coexistence signup, or its one-shot syncs are lost (docs/meta.md#coexistence-syncs).
    lacking = [field for field in COEXISTENCE_FIELDS if field not in fields]
    checks.append(
        _check(
            "Campos da coexistência (" + ", ".join(COEXISTENCE_FIELDS) + ")",
            app is not None and not lacking,
            "no painel do app › WhatsApp › Configuração, assine os campos "
            + ", ".join(lacking or COEXISTENCE_FIELDS)
            + ": sem eles, os contatos e o histórico de números do app WhatsApp Business se perdem",
        )
    )
    return checks


async def _handshake(settings: Settings, http: httpx.AsyncClient, url: str) -> Check:
    challenge = secrets.token_hex(8)
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": settings.meta_webhook_verify_token.get_secret_value(),
        "hub.challenge": challenge,
    }
    try:
        response = await http.get(url, params=params, timeout=CHECK_SECONDS)
        ok = response.status_code == 200 and response.text == challenge
    except httpx.HTTPError:
        ok = False
    return _check(
        "Webhook responde à verificação da Meta",
        ok,
        f"{url} deve responder 200 com o hub.challenge: confira QUALIFICA_BASE_URL, o proxy e o token "
        "de verificação",
    )


async def run_checks(settings: Settings) -> list[Check]:
    async with httpx.AsyncClient() as http:
        return check_local(settings) + await check_meta(settings, http)
