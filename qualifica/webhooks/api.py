"""The webhook endpoint (``WEBHOOK_PATH``): Meta's verification handshake and the signed notifications.

The POST only verifies, stores and answers: the signature is checked on the raw bytes before anything
reads them, the body is written to the inbox (group commit: with the other deliveries pending at that
moment), and Meta gets 200 once it is committed. Processing happens in the worker (``webhook.process``).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.ext.asyncio import AsyncEngine

from qualifica.config import WEBHOOK_PATH, Settings
from qualifica.errors import AppError, PayloadTooLarge
from qualifica.logging import get_logger
from qualifica.meta.credentials import effective_credentials
from qualifica.meta.signature import PREFIX, verify
from qualifica.observability import webhook_metrics
from qualifica.observability.webhook_metrics import WebhookOutcome
from qualifica.webhooks import inbox

router = APIRouter(tags=["webhooks"])
log = get_logger(__name__)
MAX_CHALLENGE = 256


class VerificationFailed(AppError):
    code, status = "verification_failed", 403
    message = "Token de verificação do webhook inválido."


class InvalidSignature(AppError):
    code, status = "invalid_signature", 401
    message = "Assinatura do webhook ausente ou inválida."


class EmptyBody(AppError):
    code, status = "empty_body", 400
    message = "O corpo da notificação está vazio."


@router.get(WEBHOOK_PATH, response_class=PlainTextResponse, include_in_schema=True)
async def handshake(
    request: Request,
    mode: Annotated[str | None, Query(alias="hub.mode", max_length=32)] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token", max_length=512)] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=MAX_CHALLENGE)] = None,
) -> PlainTextResponse:
    """Echo ``hub.challenge`` when Meta subscribes with our verify token; 403 otherwise."""
    settings: Settings = request.app.state.settings
    expected = settings.meta_webhook_verify_token.get_secret_value()
    matches = bool(expected) and hmac.compare_digest(expected.encode(), (verify_token or "").encode())
    if mode != "subscribe" or not matches or not challenge:
        log.warning("webhook.verification_failed", mode=mode)
        raise VerificationFailed
    return PlainTextResponse(challenge)


def _signature_problem(header: str | None) -> str:
    if not header:
        return "missing"
    return "mismatch" if header.startswith(PREFIX) else "wrong_prefix"


@router.post(WEBHOOK_PATH, responses={401: {}, 413: {}})
async def receive(request: Request) -> Response:
    """Store a signed notification durably and answer 200; duplicates are acknowledged, not stored twice."""
    try:
        body = await request.body()
    except PayloadTooLarge:
        webhook_metrics.event(field=None, outcome=WebhookOutcome.TOO_LARGE)
        raise
    header = request.headers.get("x-hub-signature-256")
    secret = effective_credentials(request.app.state.settings).app_secret
    if not verify(body, header, secret):
        webhook_metrics.event(field=None, outcome=WebhookOutcome.INVALID_SIGNATURE)
        log.warning("webhook.invalid_signature", problem=_signature_problem(header), size=len(body))
        raise InvalidSignature
    if not body:
        raise EmptyBody
    engine: AsyncEngine = request.app.state.engine
    # Group commit: answered once the transaction holding this row has committed (see ``inbox``).
    stored = await inbox.writer_for(request.app.state, engine).store(body)
    outcome = WebhookOutcome.DUPLICATE if stored.duplicate else WebhookOutcome.STORED
    webhook_metrics.event(field=stored.summary.field, outcome=outcome)
    log.debug(  # per delivery at debug: the writer logs one info line per commit (see ``inbox``)
        "webhook.received",
        outcome=outcome.value,
        event_id=str(stored.event_id) if stored.event_id else None,
        field=stored.summary.field,
        changes=stored.summary.changes,
    )
    answer: dict[str, Any] = {"received": True, "duplicate": stored.duplicate}
    return JSONResponse(answer)
