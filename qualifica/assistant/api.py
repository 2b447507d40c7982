"""The assistant's messages API (ARCHITECTURE §15): send, and read what became of a message.

``/api/v1/whatsapp/messages`` answers service keys (``Authorization: Bearer``); the settings page's test
message (``/api/v1/whatsapp/test-message``) answers the signed-in admin and goes through the same send.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query
from fastapi.responses import JSONResponse, StreamingResponse

from qualifica.accounts.guards import AdminPrincipal, PrincipalDep
from qualifica.assistant import event_feed, media, sending
from qualifica.assistant.auth import QueryServiceDep, ServiceDep
from qualifica.assistant.errors import (
    IdempotencyKeyReused,
    InvalidApiKey,
    InvalidRecipient,
    InvalidTestNumber,
    MessageNotFound,
    NotConnected,
    OutsideServiceWindow,
    SendMetaError,
    SendRateLimited,
)
from qualifica.assistant.messages import message_view
from qualifica.assistant.schemas import (
    SEND_EXAMPLES,
    MessageView,
    QueuedAnswer,
    SendRequest,
    SentAnswer,
    TestMessageRequest,
)
from qualifica.deps import RuntimeDep
from qualifica.errors import (
    AppError,
    CSRFFailed,
    Forbidden,
    InvalidRequest,
    MalformedJSON,
    NotAuthenticated,
    NotFound,
    error_responses,
)

router = APIRouter(prefix="/api/v1/whatsapp", tags=["assistant"], responses=error_responses(AppError))
KEY = (InvalidApiKey, Forbidden, NotFound)
SEND_ERRORS = (
    *KEY,
    MalformedJSON,
    InvalidRequest,
    NotConnected,
    OutsideServiceWindow,
    InvalidRecipient,
    IdempotencyKeyReused,
    SendRateLimited,
    SendMetaError,
)
SEND_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "model": SentAnswer,
        "description": "A Meta aceitou a mensagem.",
        "content": {
            "application/json": {"example": {"id": "0f8e2c1a-…", "wamid": "wamid.HBgN…", "status": "sent"}}
        },
    },
    202: {
        "model": QueuedAnswer,
        "description": "Meta lenta, indisponível ou limitando: o worker envia a mensagem depois, em ordem.",
        "content": {"application/json": {"example": {"id": "0f8e2c1a-…", "status": "queued"}}},
    },
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="A mesma chave com o mesmo corpo devolve a primeira resposta, sem enviar de novo.",
    ),
]


def answered(answer: sending.SendAnswer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status_code, headers=answer.headers or None)


@router.post(
    "/messages",
    status_code=200,
    response_model=SentAnswer,
    responses={**SEND_ANSWERS, **error_responses(*SEND_ERRORS)},
    summary="Enviar uma mensagem (texto ou modelo) a um contato",
)
async def send_message(
    caller: ServiceDep,
    runtime: RuntimeDep,
    request: Annotated[SendRequest, Body(openapi_examples=SEND_EXAMPLES)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    principal = await caller.acting_for(request.organization_id)
    answer = await sending.send(
        runtime, organization_id=principal.organization_id, request=request, idempotency_key=idempotency_key
    )
    return answered(answer)


@router.get(
    "/messages/{message_id}",
    response_model=MessageView,
    responses=error_responses(*KEY, MessageNotFound, InvalidRequest),
    summary="O estado de uma mensagem enviada e o seu histórico",
)
async def get_message(principal: QueryServiceDep, runtime: RuntimeDep, message_id: uuid.UUID) -> MessageView:
    return await message_view(runtime, organization_id=principal.organization_id, message_id=message_id)


@router.get(
    "/events",
    response_model=event_feed.EventPage,
    responses=error_responses(*KEY, InvalidRequest),
    summary="Os eventos da organização, do mais antigo ao mais novo, a partir de um cursor",
)
async def list_events(
    principal: QueryServiceDep,
    runtime: RuntimeDep,
    after: Annotated[str | None, Query(max_length=32, description="O next_cursor da página anterior")] = None,
    limit: Annotated[int, Query(ge=1, le=event_feed.MAX_LIMIT)] = 50,
) -> event_feed.EventPage:
    """Each event once per walk: message.received, message.status, message.echo, contacts.synced,
    history.synced, connection.status_changed (§15)."""
    return await event_feed.page(runtime, organization_id=principal.organization_id, after=after, limit=limit)


@router.get(
    "/media/{media_id}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        **error_responses(*KEY, NotConnected, InvalidRequest),
    },
    summary="Um arquivo recebido de um contato (imagem, áudio, vídeo, documento), transmitido pelo serviço",
)
async def get_media(
    principal: QueryServiceDep, runtime: RuntimeDep, media_id: Annotated[str, Path(max_length=64)]
) -> StreamingResponse:
    """Only a media id this organization received; fetched from Meta with the connection's token."""
    found = await media.open_media(runtime, organization_id=principal.organization_id, media_id=media_id)
    return StreamingResponse(found.chunks, media_type=found.mime_type)


# -- the settings page's test message (the signed-in admin; CSRF) --------------------------------------------
@router.post(
    "/test-message",
    status_code=200,
    response_model=SentAnswer,
    responses={
        **SEND_ANSWERS,
        **error_responses(
            NotAuthenticated,
            CSRFFailed,
            Forbidden,
            InvalidTestNumber,
            NotConnected,
            InvalidRecipient,
            SendMetaError,
        ),
    },
    summary="Enviar a mensagem de teste (modelo hello_world) a um número (página de configurações)",
)
async def send_test_message(
    principal: AdminPrincipal, runtime: RuntimeDep, body: TestMessageRequest
) -> JSONResponse:
    answer = await sending.send(
        runtime,
        organization_id=principal.user.organization_id,
        request=body.as_send_request(),  # InvalidTestNumber when it is not a phone number
        idempotency_key=None,
        source="test",
    )
    return answered(answer)


@router.get(
    "/test-message/{message_id}",
    response_model=MessageView,
    responses=error_responses(NotAuthenticated, MessageNotFound, InvalidRequest),
    summary="O estado da mensagem de teste (página de configurações)",
)
async def get_test_message(
    principal: PrincipalDep, runtime: RuntimeDep, message_id: uuid.UUID
) -> MessageView:
    return await message_view(runtime, organization_id=principal.user.organization_id, message_id=message_id)
