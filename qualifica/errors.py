"""One error tree: every expected failure carries a stable code, a pt-BR message and an HTTP status."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class ErrorInfo(BaseModel):
    code: str
    message: str  # pt-BR, shown to the user as it is
    hint: str | None = None  # what to do about it, when we know


class FieldProblem(BaseModel):
    field: str
    reason: str  # never the rejected value: it may be a password or a token


class ErrorDetail(ErrorInfo):
    model_config = ConfigDict(extra="allow")

    fields: list[FieldProblem] | None = None  # 422 ``invalid_request`` only


class ErrorEnvelope(BaseModel):
    """Every JSON error answer: {"error": {"code", "message", "hint"?}}; hint and fields only when set."""

    error: ErrorDetail


class AppError(Exception):
    """An expected failure, rendered as ``{"error": {"code", "message"}}`` or inside the page layout."""

    code: ClassVar[str] = "internal_error"
    message: ClassVar[str] = "Ocorreu um erro inesperado. Tente novamente em instantes."
    status: int = 500

    def __init__(
        self,
        message: str | None = None,
        *,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        self.status = status or type(self).status
        self.detail = message or self.message
        self.hint = hint
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(f"{self.code}: {self.detail}")

    def envelope(self) -> ErrorEnvelope:
        detail = ErrorDetail(code=self.code, message=self.detail, hint=self.hint or None, **self.extra)
        return ErrorEnvelope(error=detail)

    def body(self) -> dict[str, Any]:
        return envelope_json(self.envelope())


def envelope_json(envelope: ErrorEnvelope) -> dict[str, Any]:
    """The envelope as sent: absent keys stay absent (no ``"hint": null``)."""
    return envelope.model_dump(mode="json", exclude_none=True)


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the errors a route may answer: the envelope, one example per code."""
    by_status: dict[int, list[type[AppError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    return {status: _documented(group) for status, group in sorted(by_status.items())}


def _documented(errors: Iterable[type[AppError]]) -> dict[str, Any]:
    examples = {error.code: {"summary": error.code, "value": error().body()} for error in errors}
    return {
        "model": ErrorEnvelope,
        "description": " | ".join(examples),
        "content": {"application/json": {"examples": examples}},
    }


class InvalidRequest(AppError):
    code, status = "invalid_request", 422
    message = "Os dados enviados são inválidos."


class MalformedJSON(AppError):
    code, status = "malformed_json", 400
    message = "O corpo da requisição não é um JSON válido."


class PayloadTooLarge(AppError):
    code, status = "payload_too_large", 413
    message = "O corpo da requisição é grande demais."


class NotAuthenticated(AppError):
    code, status = "not_authenticated", 401
    message = "Faça login para continuar."


class InvalidCredentials(AppError):
    code, status = "invalid_credentials", 401
    message = "E-mail ou senha incorretos."


class TooManyAttempts(AppError):
    code, status = "too_many_attempts", 429
    message = "Muitas tentativas de login. Aguarde alguns minutos e tente novamente."


class CSRFFailed(AppError):
    code, status = "csrf_failed", 403
    message = "A sessão de segurança do formulário expirou. Recarregue a página e tente novamente."


class Forbidden(AppError):
    code, status = "forbidden", 403
    message = "Você não tem permissão para fazer isso."


class NotFound(AppError):
    code, status = "not_found", 404
    message = "Não encontrado."


class ServiceUnavailable(AppError):
    code, status = "service_unavailable", 503
    message = "O serviço está indisponível no momento."
