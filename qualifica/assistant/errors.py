"""The failures of the assistant's API (ARCHITECTURE §15), each with its code, status and pt-BR message."""

from __future__ import annotations

from qualifica.errors import AppError, InvalidRequest


class InvalidApiKey(AppError):
    code, status = "invalid_api_key", 401
    message = "Chave de API ausente, desconhecida ou revogada. Envie Authorization: Bearer <chave>."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class OrganizationRequired(InvalidRequest):
    message = "Informe organization_id: esta chave não está vinculada a uma organização."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, extra={"fields": [{"field": "organization_id", "reason": "obrigatório"}]})


class InvalidTestNumber(InvalidRequest):
    message = "Informe o número com o código do país e o DDD, por exemplo +55 11 98765-4321."


class NotConnected(AppError):
    code, status = "not_connected", 409
    message = (
        "O WhatsApp desta organização não está conectado. Um administrador precisa conectá-lo em "
        "Configurações › WhatsApp."
    )


class OutsideServiceWindow(AppError):
    code, status = "outside_service_window", 422
    message = (
        "O contato não escreveu nas últimas 24 horas: fora da janela de atendimento só é possível enviar "
        "um modelo de mensagem aprovado (type: template)."
    )


class InvalidRecipient(AppError):
    code, status = "invalid_recipient", 422
    message = (
        "Não foi possível entregar a mensagem a este número: ele não tem WhatsApp, não aceitou os termos "
        "ou usa uma versão antiga do aplicativo. Confira o número do contato."
    )


class IdempotencyKeyReused(AppError):
    code, status = "idempotency_key_reused", 422
    message = "Esta Idempotency-Key já foi usada com outra mensagem. Use uma chave nova para cada mensagem."


class SendRateLimited(AppError):
    code, status = "rate_limited", 429
    message = (
        "Há mensagens demais na fila deste número. Aguarde o tempo indicado em Retry-After e tente de novo."
    )


class SendMetaError(AppError):
    code, status = "meta_error", 502
    message = "A Meta recusou a mensagem."


class MessageNotFound(AppError):
    code, status = "not_found", 404
    message = "Mensagem não encontrada."
