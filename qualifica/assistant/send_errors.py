"""Meta's send-side error codes (reference 2026 §5.4) in plain Portuguese: the stable code the assistant
branches on and what to do about it. Meta asks clients to branch on ``code``, never on titles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_TEMPLATE = "Confira o nome, o idioma e os parâmetros do modelo no WhatsApp Manager."


@dataclass(frozen=True)
class SendError:
    code: str  # our stable code
    message: str  # pt-BR: what happened and what to do


OUTSIDE_WINDOW = SendError(
    "outside_service_window",
    "O contato não escreveu nas últimas 24 horas: fora da janela de atendimento só é possível enviar um "
    "modelo de mensagem aprovado.",
)
INVALID_RECIPIENT = SendError(
    "invalid_recipient",
    "Não foi possível entregar a mensagem a este número: ele não tem WhatsApp, não aceitou os termos ou usa "
    "uma versão antiga do aplicativo. Confira o número do contato.",
)
RATE_LIMITED = SendError(
    "rate_limited", "A Meta limitou o envio de mensagens deste número. Vamos tentar de novo automaticamente."
)
UNAVAILABLE = SendError(
    "meta_unavailable", "A Meta não respondeu a tempo. Vamos tentar de novo automaticamente."
)
GAVE_UP = SendError(
    "meta_unavailable",
    "A Meta ficou indisponível por tempo demais e a mensagem não foi enviada. Envie de novo mais tarde.",
)
NOT_CONNECTED = SendError(
    "not_connected",
    "O WhatsApp desta organização não está mais conectado. Um administrador precisa reconectá-lo em "
    "Configurações › WhatsApp.",
)
UNKNOWN = SendError("meta_error", "A Meta recusou a mensagem. Se continuar, fale com o suporte.")

BY_META_CODE: dict[int, SendError] = {
    131047: OUTSIDE_WINDOW,
    131026: INVALID_RECIPIENT,
    130429: RATE_LIMITED,
    131056: SendError(
        "pair_rate_limited",
        "Muitas mensagens seguidas para este contato. Aguarde um pouco antes de enviar a próxima.",
    ),
    131048: SendError(
        "number_restricted",
        "O número foi restringido pela Meta porque mensagens anteriores foram bloqueadas ou marcadas como "
        "spam. Confira a qualidade do número no WhatsApp Manager.",
    ),
    131049: SendError(
        "ecosystem_limit",
        "A Meta não entregou esta mensagem de marketing para preservar a experiência do contato. Tente de "
        "novo depois de 24 horas.",
    ),
    131050: SendError(
        "marketing_opt_out", "O contato pediu para não receber mensagens de marketing desta empresa."
    ),
    132000: SendError(
        "template_params_mismatch",
        f"O número de parâmetros não confere com o modelo de mensagem. {_TEMPLATE}",
    ),
    132001: SendError(
        "template_not_found",
        f"O modelo de mensagem não existe nesse idioma ou ainda não foi aprovado. {_TEMPLATE}",
    ),
    132005: SendError("template_invalid", f"O texto do modelo ficou longo demais. {_TEMPLATE}"),
    132007: SendError("template_invalid", f"O modelo viola as políticas da Meta. {_TEMPLATE}"),
    132012: SendError("template_invalid", f"Um parâmetro do modelo está no formato errado. {_TEMPLATE}"),
    132015: SendError("template_paused", f"O modelo foi pausado pela Meta por baixa qualidade. {_TEMPLATE}"),
    132016: SendError(
        "template_disabled", "O modelo foi desativado pela Meta por baixa qualidade. Crie um modelo novo."
    ),
    131042: SendError(
        "payment_required",
        "A conta do WhatsApp Business está sem forma de pagamento válida. Um administrador precisa "
        "cadastrá-la no WhatsApp Manager.",
    ),
    131031: SendError(
        "account_locked", "A conta do WhatsApp Business foi bloqueada pela Meta. Fale com o suporte."
    ),
    131045: SendError(
        "number_not_registered",
        "O número não está registrado na Meta. Um administrador precisa reconectar o WhatsApp.",
    ),
    190: NOT_CONNECTED,
}
TRANSIENT_META_CODES = frozenset({1, 2, 130429, 131000, 131016, 131057, 133004})


def explain_meta_code(code: int | None) -> SendError:
    if code is None:
        return UNKNOWN
    if code in BY_META_CODE:
        return BY_META_CODE[code]
    if code == 10 or 200 <= code <= 299 or code == 131005:
        return NOT_CONNECTED
    return UNKNOWN


def explain_status_error(error: dict[str, Any] | None) -> tuple[str, str]:
    """A ``failed`` status's first ``errors[]`` item (or nothing) as (our code, pt-BR message)."""
    raw = (error or {}).get("code")
    code = raw if isinstance(raw, int) else int(raw) if isinstance(raw, str) and raw.isdigit() else None
    explained = explain_meta_code(code)
    return explained.code, explained.message
