"""Meta's error codes in plain Portuguese: a stable code for programs and what the admin should do.

Used in API messages (``error.hint``), on the page, in analytics and in the support runbook. Keys are
Meta's ``(code, subcode)``; ``subcode=None`` matches any subcode of that code.
"""

from __future__ import annotations

from dataclasses import dataclass

from qualifica.meta.errors import MetaError
from qualifica.observability.signup_metrics import ClosedLabel, error_tree_codes


@dataclass(frozen=True)
class Explanation:
    code: str
    hint: str


_RECONNECT = "Clique em Reconectar (ou em Conectar WhatsApp) e refaça a conexão."
_SUPPORT = "Se continuar, fale com o suporte da Qualifica Leads."

GRAPH_ERRORS: dict[tuple[int, int | None], Explanation] = {
    (100, 36007): Explanation(
        "code_expired", f"A autorização da Meta expirou antes de ser concluída. {_RECONNECT}"
    ),
    (100, 36009): Explanation("code_used", f"Esta autorização da Meta já foi usada. {_RECONNECT}"),
    (100, 36008): Explanation(
        "redirect_uri_mismatch", f"A configuração do aplicativo na Meta não confere com a nossa. {_SUPPORT}"
    ),
    (100, 33): Explanation(
        "object_not_found",
        f"A Meta não encontrou a conta ou o número escolhido, ou o acesso a ele foi removido. {_RECONNECT}",
    ),
    (100, None): Explanation("invalid_parameter", f"A Meta recusou um dos dados enviados. {_SUPPORT}"),
    (190, None): Explanation(
        "token_invalid", f"O acesso concedido à Qualifica Leads foi revogado ou expirou. {_RECONNECT}"
    ),
    (1, None): Explanation(
        "meta_unavailable", "A Meta está instável no momento. Tente de novo em alguns minutos."
    ),
    (2, None): Explanation(
        "meta_unavailable", "A Meta está instável no momento. Tente de novo em alguns minutos."
    ),
    (101, None): Explanation(
        "app_invalid", f"O aplicativo da Qualifica Leads na Meta está mal configurado. {_SUPPORT}"
    ),
    (10, None): Explanation(
        "permission_denied",
        f"A Meta não concedeu as permissões necessárias. Na janela da Meta, aceite todas as permissões. {_RECONNECT}",
    ),
    (200, None): Explanation(
        "permission_denied",
        "O acesso à conta do WhatsApp Business não foi concedido à Qualifica Leads. "
        f"Na janela da Meta, selecione a conta e aceite as permissões. {_RECONNECT}",
    ),
    (4, None): Explanation(
        "rate_limited", "A Meta limitou temporariamente as chamadas. Tente de novo em uma hora."
    ),
    (80007, None): Explanation(
        "rate_limited", "A conta atingiu o limite de chamadas da Meta. Tente de novo em uma hora."
    ),
    (368, None): Explanation(
        "policy_blocked",
        "A Meta bloqueou temporariamente esta conta por violação de políticas. Verifique o Gerenciador do WhatsApp.",
    ),
    (131031, None): Explanation(
        "account_locked",
        "A conta do WhatsApp Business está bloqueada pela Meta. Verifique o Gerenciador do WhatsApp.",
    ),
    (131042, None): Explanation(
        "payment_issue",
        "Há um problema com a forma de pagamento da conta. Adicione ou corrija o pagamento no Gerenciador do WhatsApp.",
    ),
    (133005, None): Explanation(
        "pin_mismatch",
        "O número já tem uma confirmação em duas etapas com outro PIN. Informe o PIN de 6 dígitos atual do número.",
    ),
    (133006, None): Explanation(
        "reverification_needed",
        "O número precisa ser verificado de novo pela Meta. Refaça a conexão e confirme o código.",
    ),
    (133010, None): Explanation("number_not_registered", f"O número ainda não está registrado. {_RECONNECT}"),
    (133015, None): Explanation(
        "number_recently_deleted", "O número foi excluído há pouco. Aguarde 5 minutos e tente de novo."
    ),
    (133016, None): Explanation(
        "registration_limit",
        "O número atingiu o limite de 10 registros em 72 horas. Aguarde 72 horas e tente de novo.",
    ),
}

# Codes the popup reports itself (CANCEL with error_code/error_id), as Meta lists them:
# https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/errors
FLOW_ERRORS: dict[str, Explanation] = {
    **dict.fromkeys(
        ("2388098", "2494067", "1752089", "1690114"),
        Explanation("waba_limit", "A empresa atingiu o limite de contas do WhatsApp Business na Meta."),
    ),
    **dict.fromkeys(
        ("2655049", "2494028"),
        Explanation(
            "already_shared",
            "Esta conta do WhatsApp Business já está conectada a outro parceiro. Desconecte-a lá e tente de novo.",
        ),
    ),
    "2593072": Explanation("waba_inaccessible", "A conta do WhatsApp Business escolhida não está acessível."),
    **dict.fromkeys(
        ("2494158", "2593037", "2593039", "2388091", "2388093"),
        Explanation(
            "verification_code_limit", "Muitos pedidos de código de verificação. Aguarde algumas horas."
        ),
    ),
    **dict.fromkeys(
        ("2655095", "2655048", "3441041", "3441045"),
        Explanation(
            "not_business_app_number",
            "Este número não está no aplicativo WhatsApp Business ou não pode ser usado junto com ele.",
        ),
    ),
    **dict.fromkeys(
        ("3441049", "2655094"),
        Explanation(
            "wait_after_disconnect", "O número foi desconectado há pouco. Aguarde 15 minutos e tente de novo."
        ),
    ),
    "4563015": Explanation(
        "update_business_app", "Atualize o aplicativo WhatsApp Business no celular e tente de novo."
    ),
    **dict.fromkeys(
        ("3441033", "3441046", "1390006", "1675004", "1390008"),
        Explanation("rate_limited", "Muitas tentativas seguidas. Aguarde alguns minutos e tente de novo."),
    ),
    **dict.fromkeys(
        ("2655089", "3441040", "2388107", "2859015"),
        Explanation(
            "restricted", "A Meta restringiu esta conta ou número. Verifique o Gerenciador do WhatsApp."
        ),
    ),
}

# The number's verification and its creation (ARCHITECTURE §14; reference 2026 §7): the same Meta code
# means different things on each call (100 is "wrong code" on verify_code, "already in use" on adding a
# number), so these are read per call first, then through ``GRAPH_ERRORS``.
_WAIT_CODE = "Aguarde alguns minutos antes de pedir outro código."
VERIFICATION_ERRORS: dict[tuple[str, int, int | None], Explanation] = {
    ("verify_code", 100, None): Explanation(
        "verification_code_invalid",
        "O código está errado ou expirou. Confira os 6 dígitos recebidos ou peça um novo código.",
    ),
    ("verify_code", 136025, None): Explanation(
        "verification_code_invalid",
        "O código está errado ou expirou. Confira os 6 dígitos recebidos ou peça um novo código.",
    ),
    ("request_code", 100, None): Explanation(
        "number_not_eligible",
        "A Meta não pode enviar um código para este número agora. Confira o número e tente mais tarde.",
    ),
    ("request_code", 136024, None): Explanation(
        "verification_code_limit", f"Foram pedidos códigos demais para este número. {_WAIT_CODE}"
    ),
    ("request_code", 4, 2446079): Explanation(
        "verification_code_limit", f"Foram pedidos códigos demais para este número. {_WAIT_CODE}"
    ),
    ("verify_code", 4, 2446079): Explanation(
        "verification_code_limit",
        "Foram feitas tentativas demais com este número. Aguarde alguns minutos e tente de novo.",
    ),
    ("add_phone_number", 100, None): Explanation(
        "number_rejected",
        "A Meta recusou o número ou o nome de exibição. Confira o código do país, o DDD e o número, e use "
        "um nome de exibição de 2 a 75 caracteres.",
    ),
    ("add_phone_number", 200, 1349175): Explanation(
        "phone_number_limit",
        "A conta do WhatsApp Business atingiu o limite de números. Remova um número no Gerenciador do "
        "WhatsApp ou use outra conta.",
    ),
    ("add_phone_number", 4, 2446080): Explanation(
        "rate_limited", "Foram adicionados números demais em pouco tempo. Aguarde e tente de novo."
    ),
    **{
        (call, code, None): Explanation(
            "number_not_eligible",
            "Este número não pode ser verificado pela API agora (está em migração). Fale com o suporte.",
        )
        for call in ("request_code", "verify_code")
        for code in (2388091, 2388093)
    },
}

NUMBER_IN_USE = Explanation(
    "number_in_use",
    "Este número já está em uso em outra conta do WhatsApp Business ou no WhatsApp. "
    "Remova-o de lá ou use outro número.",
)
UNKNOWN = Explanation("meta_error", f"A Meta recusou a operação. {_SUPPORT}")
TRANSIENT = Explanation(
    "meta_unavailable", "A Meta está instável no momento. Tente de novo em alguns minutos."
)


def explain_meta(error: MetaError) -> Explanation:
    if error.code is None:
        return TRANSIENT
    exact = GRAPH_ERRORS.get((error.code, error.subcode))
    if exact is not None:
        return exact
    if 200 <= error.code <= 299:
        return GRAPH_ERRORS[(200, None)]
    return GRAPH_ERRORS.get((error.code, None)) or (TRANSIENT if error.transient else UNKNOWN)


def explain_verification(error: MetaError, call: str) -> Explanation:
    """``error`` of ``call`` (``request_code``, ``verify_code``, ``add_phone_number``) in plain Portuguese."""
    if call == "add_phone_number" and error.code == 100 and error.http_status == 409:
        return NUMBER_IN_USE  # Meta's 409: "already registered with WhatsApp Business" (OpenAPI example)
    if error.code is not None:
        for subcode in (error.subcode, None):
            found = VERIFICATION_ERRORS.get((call, error.code, subcode))
            if found is not None:
                return found
    return explain_meta(error)


def explain_flow_code(code: str | None) -> Explanation | None:
    return FLOW_ERRORS.get(code or "")


def analytics_code(error: MetaError) -> str:
    """``error_code`` for events and metrics: Meta's numeric code as text, else our stable code."""
    return str(error.code) if error.code is not None else explain_meta(error).code


# The failure metric's ``error_code`` (§13): Meta's codes and ours above, the error tree's; else ``other``.
METRIC_ERROR_CODE = ClosedLabel(
    (
        *(str(code) for code, _ in GRAPH_ERRORS),
        *FLOW_ERRORS,
        *(explanation.code for explanation in (*GRAPH_ERRORS.values(), *FLOW_ERRORS.values())),
        UNKNOWN.code,
        TRANSIENT.code,
        "phone_not_found",  # the pipeline's own
        "unknown",  # a popup error reported without a code
    ),
    also=error_tree_codes,
)
