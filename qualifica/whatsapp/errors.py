"""The signup and connection failures of the HTTP contract (ARCHITECTURE §4 and §10)."""

from __future__ import annotations

from qualifica.errors import AppError

SESSION_EXPIRED_MESSAGE = "Sessão expirada. Clique para reconectar."
# The page hands this template to its script, which fills it the way ``meta_error_sentence`` does.
META_ERROR_MESSAGE = "Não foi possível conectar. Erro: {mensagem}. Entre em contato com suporte."
CANCELLED_MESSAGE = "Conexão cancelada. Clique para tentar novamente."


def meta_error_sentence(message: str | None) -> str:
    """The PRD sentence around Meta's own words, which may end with a period of their own."""
    return META_ERROR_MESSAGE.format(mensagem=(message or "").strip().rstrip(".") or "erro desconhecido")


class FeatureDisabled(AppError):
    code, status = "feature_disabled", 403
    message = (
        "A conexão com o WhatsApp está sendo liberada aos poucos e ainda não está disponível para a sua "
        "imobiliária. Fale com o seu gerente de conta."
    )


class AlreadyConnected(AppError):
    code, status = "already_connected", 409
    message = "O WhatsApp já está conectado. Desconecte antes de conectar outro número."


class InvalidState(AppError):
    code, status = "invalid_state", 400
    message = "A sessão de conexão é inválida. Clique para tentar novamente."


class SessionExpired(AppError):
    code, status = "session_expired", 401
    message = SESSION_EXPIRED_MESSAGE


class StateAlreadyUsed(AppError):
    code, status = "state_already_used", 409
    message = "Esta sessão de conexão já foi usada. Clique para tentar novamente."


class WabaNotGranted(AppError):
    code, status = "waba_not_granted", 400
    message = (
        "A conta do WhatsApp Business escolhida não foi compartilhada com a Qualifica Leads. "
        "Clique para tentar novamente e conceda o acesso a ela."
    )


class MetaFailure(AppError):
    code, status = "meta_error", 502
    message = meta_error_sentence(None)


class NotConnected(AppError):
    code, status = "not_connected", 404
    message = "O WhatsApp não está conectado."


class InvalidPin(AppError):
    code, status = "invalid_pin", 422
    message = "O PIN deve ter exatamente 6 dígitos."


class PinMismatch(AppError):
    code, status = "pin_mismatch", 409
    message = "O PIN informado não confere com o PIN de confirmação em duas etapas do número."


class NoPinRequired(AppError):
    code, status = "no_pin_required", 409
    message = "Nenhuma conexão está aguardando o PIN."


class WabaInUse(AppError):
    code, status = "waba_in_use", 409
    message = (
        "Esta conta do WhatsApp Business já está conectada a outra imobiliária no Qualifica Leads. "
        "Entre em contato com o suporte."
    )


class AttemptSuperseded(AppError):
    code, status = "attempt_superseded", 409
    message = (
        "Esta tentativa de conexão foi substituída por uma mais recente ou expirou. "
        "Clique para tentar novamente."
    )


class PinAttemptsExhausted(AppError):
    code, status = "pin_attempts_exhausted", 409
    message = (
        "O PIN foi recusado três vezes. Por segurança, esta tentativa foi encerrada: confira o PIN de "
        "confirmação em duas etapas no Gerenciador do WhatsApp e conecte de novo."
    )


class SignupInternalError(AppError):
    code, status = "internal_error", 500
    message = (
        "Não foi possível concluir a conexão por um erro inesperado do nosso lado. Clique para tentar "
        "novamente; se continuar, entre em contato com o suporte."
    )


# ARCHITECTURE §14: the admin's answers to a signup that waits for them.
class InvalidChoice(AppError):
    code, status = "invalid_choice", 422
    message = "Escolha uma das contas e um dos números oferecidos."


class NoVerificationRequired(AppError):
    code, status = "no_verification_required", 409
    message = "Nenhuma conexão está aguardando a verificação do número."


class NoNumberRequired(AppError):
    code, status = "no_number_required", 409
    message = "Nenhuma conexão está aguardando um número de telefone."


class InvalidCode(AppError):
    code, status = "invalid_code", 422
    message = "O código de verificação deve ter exatamente 6 dígitos."


class InvalidNumber(AppError):
    code, status = "invalid_number", 422
    message = (
        "Informe o código do país (por exemplo 55), o número com DDD (só dígitos) e um nome de exibição "
        "de 2 a 75 caracteres."
    )


class VerificationFailed(AppError):
    """Meta refused a verification step; ``code`` and ``status`` come from the catalogue's reading."""

    code, status = "verification_refused", 422
    message = "A Meta recusou a verificação do número."


class RateLimited(AppError):
    code, status = "rate_limited", 429
    message = "A Meta está limitando as requisições agora. Tente de novo em alguns minutos."
