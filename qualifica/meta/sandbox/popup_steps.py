"""Each popup screen: what it shows (context) and where its form leads (``advance``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qualifica.meta.sandbox.autopilot import ERROR_DISPLAY_NAME
from qualifica.meta.sandbox.sandbox import PATH_BUSINESS, Sandbox
from qualifica.meta.sandbox.signup import Flow
from qualifica.meta.sandbox.world import PROFILE_NAME, TOKEN_SHAPES

OTP = re.compile(r"^\d{6}$")
ONLY_WABA = "only_waba_sharing"
COEXISTENCE = "whatsapp_business_app_onboarding"
# The login screen's "today's Meta" panel: Graph calls a person may make answer a rate limit once.
RATE_LIMIT_ENDPOINTS = {
    "waba": "Leitura da conta (GET /{waba_id})",
    "phone_numbers": "Lista de números",
    "debug_token": "debug_token",
    "subscribed_apps": "Inscrição do app (subscribed_apps)",
    "register": "Registro do número",
    "request_code": "Pedido de código (request_code)",
    "smb_app_data": "Sincronização da coexistência (smb_app_data)",
}
RATE_LIMIT_MINUTES = 1


class StepError(ValueError):
    """The form cannot go on; the message (pt-BR) is shown on the same screen."""


@dataclass(frozen=True)
class Page:
    title: str
    progress: int  # 1..6 for the step indicator
    context: Callable[[Sandbox, Flow], dict[str, Any]]


def _login(sandbox: Sandbox, flow: Flow) -> dict[str, Any]:
    return {
        "profile_name": PROFILE_NAME,
        "token_shape": sandbox.scenario.token_shape,
        "rate_limit_endpoints": RATE_LIMIT_ENDPOINTS,
        "history_sharing": sandbox.scenario.history_sharing,
    }


def _business(sandbox: Sandbox, flow: Flow) -> dict[str, Any]:
    businesses = list(sandbox.world.businesses.values())
    wanted = PATH_BUSINESS.get(flow.auto.path) if flow.auto else None
    selected = next((b.id for b in businesses if b.name == wanted), businesses[0].id)
    return {"businesses": businesses, "selected": selected}


def _waba(sandbox: Sandbox, flow: Flow) -> dict[str, Any]:
    assert flow.business_id
    return {
        "wabas": sandbox.world.wabas_of(flow.business_id),
        "business": sandbox.world.businesses[flow.business_id],
    }


def _waba_create(sandbox: Sandbox, flow: Flow) -> dict[str, Any]:
    assert flow.business_id
    return {"business": sandbox.world.businesses[flow.business_id]}


def _phone(sandbox: Sandbox, flow: Flow) -> dict[str, Any]:
    assert flow.waba_id
    biz_app = [p for p in sandbox.world.phones.values() if p.is_on_biz_app]
    waba = sandbox.world.wabas[flow.waba_id]
    suggested = {"number": sandbox.world.ids.phone(), "display_name": waba.name}
    if flow.auto and flow.auto.path == "error":
        suggested["display_name"] = ERROR_DISPLAY_NAME
    default = "coexistence" if flow.feature_type == COEXISTENCE else "existing"
    return {
        "existing": sandbox.existing_phones(flow.waba_id),
        "biz_app": biz_app,
        "waba": waba,
        "suggested": suggested,
        "default_choice": default,
    }


def _verify(sandbox: Sandbox, flow: Flow) -> dict[str, Any]:
    assert flow.phone_id
    return {"phone": sandbox.world.phones[flow.phone_id]}


def _summary(sandbox: Sandbox, flow: Flow) -> dict[str, Any]:
    world = sandbox.world
    return {
        "business": world.businesses.get(flow.business_id or ""),
        "waba": world.wabas.get(flow.waba_id or ""),
        "phone": world.phones.get(flow.phone_id or ""),
    }


def _error(sandbox: Sandbox, flow: Flow) -> dict[str, Any]:
    from qualifica.meta.sandbox.signup import USER_ERROR_CODE, USER_ERROR_MESSAGE

    return {"error_code": USER_ERROR_CODE, "error_message": USER_ERROR_MESSAGE, "session_id": flow.session_id}


PAGES = {
    "login": Page("Entrar com o Facebook", 1, _login),
    "business": Page("Selecione seu portfólio empresarial", 2, _business),
    "waba": Page("Escolha uma conta do WhatsApp Business", 3, _waba),
    "waba_create": Page("Crie um perfil do WhatsApp Business", 3, _waba_create),
    "phone": Page("Adicione um número de telefone", 4, _phone),
    "verify": Page("Verifique seu número de telefone", 4, _verify),
    "permissions": Page("Revise as permissões", 5, _summary),
    "payment": Page("Tudo pronto!", 6, _summary),
    "error": Page("Não foi possível concluir", 4, _error),
}


def advance(sandbox: Sandbox, flow: Flow, page: str, form: dict[str, str]) -> str:
    """Apply the screen's form to the flow and name the next screen; ``StepError`` keeps the user here."""
    world = sandbox.world
    if page == "login":
        _apply_scenario(sandbox, flow, form)
        return "business"
    if page == "business":
        if form.get("business_id") not in world.businesses:
            raise StepError("Selecione um portfólio empresarial.")
        flow.business_id = form["business_id"]
        return "waba"
    if page == "waba":
        choice = form.get("waba", "")
        if choice == "new":
            return "waba_create"
        if choice not in {w.id for w in world.wabas_of(flow.business_id or "")}:
            raise StepError("Selecione uma conta do WhatsApp Business.")
        flow.waba_id = choice
        return "permissions" if flow.feature_type == ONLY_WABA else "phone"
    if page == "waba_create":
        name = form.get("name", "").strip()
        if len(name) < 3:
            raise StepError("Informe o nome da conta (pelo menos 3 caracteres).")
        assert flow.business_id
        flow.waba_id = world.add_waba(flow.business_id, name).id
        return "permissions" if flow.feature_type == ONLY_WABA else "phone"
    if page == "phone":
        return _advance_phone(sandbox, flow, form)
    if page == "verify":
        if form.get("later"):
            # ES v4: the number stays unverified (docs/meta.md#embedded-signup-v4-endings)
            flow.verify_later = True
            return "permissions"
        if not OTP.match(form.get("otp", "").strip()):
            raise StepError("O código de verificação tem 6 dígitos.")
        assert flow.phone_id
        world.phones[flow.phone_id].code_verification_status = "VERIFIED"
        return "permissions"
    if page == "permissions":
        return "payment"
    raise StepError("Esta tela não tem um próximo passo.")


def _apply_scenario(sandbox: Sandbox, flow: Flow, form: dict[str, str]) -> None:
    """The login screen's panel: which Meta the rest of this demo meets (docs/sandbox.md, "Demo")."""
    shape = form.get("token_shape")
    if shape in TOKEN_SHAPES:
        sandbox.set_token_shape(shape)
    endpoint = form.get("rate_limit", "")
    if endpoint in RATE_LIMIT_ENDPOINTS:
        sandbox.fail_next(endpoint, code=80007, regain_minutes=RATE_LIMIT_MINUTES)
    if form.get("no_event"):
        flow.post_event = False
    if "history_sharing" in form or form.get("scenario"):
        sandbox.set_history_sharing(bool(form.get("history_sharing")))


def _advance_phone(sandbox: Sandbox, flow: Flow, form: dict[str, str]) -> str:
    world = sandbox.world
    kind, _, phone_id = form.get("choice", "").partition(":")
    assert flow.waba_id
    if kind == "later":
        flow.phone_choice = "later"
        return "permissions"
    if kind == "existing" and phone_id in {p.id for p in sandbox.existing_phones(flow.waba_id)}:
        flow.phone_choice, flow.phone_id = "existing", phone_id
        return "permissions"
    if kind == "coexistence" and phone_id in world.phones and world.phones[phone_id].is_on_biz_app:
        flow.phone_choice = "coexistence"
        flow.phone_id = sandbox.coexistence_phone(flow.waba_id).id
        return "permissions"
    if kind != "new":
        raise StepError("Escolha uma das opções de número.")
    digits = re.sub(r"\D", "", form.get("number", ""))
    display_name = form.get("display_name", "").strip()
    if not 10 <= len(digits) <= 15:
        raise StepError("Informe o número com DDI e DDD, por exemplo +55 11 91234-5678.")
    if len(display_name) < 3:
        raise StepError("Informe o nome de exibição.")
    if "whatsapp" in display_name.lower():
        return "error"  # Meta refuses names containing "WhatsApp": the user-reported error screen
    flow.phone_choice = "new"
    flow.phone_id = world.add_phone(flow.waba_id, form["number"].strip(), display_name).id
    return "verify"
