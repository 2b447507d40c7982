"""One error tree: every expected failure carries a stable code, a pt-BR message and an HTTP status."""

from __future__ import annotations

from typing import Any, ClassVar


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

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.detail}
        if self.hint:
            error["hint"] = self.hint
        error.update(self.extra)
        return {"error": error}


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
