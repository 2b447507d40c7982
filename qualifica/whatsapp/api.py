"""The WhatsApp connection API (ARCHITECTURE §4): thin handlers over the signup and connection services."""

from __future__ import annotations

import time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from qualifica.accounts.guards import AdminPrincipal, PrincipalDep
from qualifica.accounts.models import Role
from qualifica.deps import RuntimeDep, SessionDep
from qualifica.errors import AppError, Forbidden
from qualifica.meta.credentials import effective_credentials
from qualifica.observability import signup_metrics
from qualifica.runtime import Runtime
from qualifica.whatsapp import connection as connection_service
from qualifica.whatsapp import health_check, signup
from qualifica.whatsapp.schemas import (
    CallbackRequest,
    CancelRequest,
    DisconnectRequest,
    DisconnectResponse,
    ErrorReport,
    PinRequest,
    StartResponse,
    StatusResponse,
)
from qualifica.whatsapp.status import connection_view, status_response

router = APIRouter(prefix="/api/v1/whatsapp", tags=["whatsapp"])
CALLBACK_PATH = "/api/v1/whatsapp/embedded-signup/callback"
OUTCOMES = {200: "completed", 202: "processing"}


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def redirect_uri(runtime: Runtime) -> str:
    return runtime.settings.base_url + CALLBACK_PATH


@router.post("/embedded-signup/start", response_model=StartResponse)
async def start(
    request: Request, principal: AdminPrincipal, db: SessionDep, runtime: RuntimeDep
) -> StartResponse:
    attempt, state = await signup.start(
        db, runtime, user=principal.user, ip=client_ip(request), user_agent=request.headers.get("user-agent")
    )
    settings = runtime.settings
    credentials = effective_credentials(settings)
    return StartResponse(
        state=state,
        attempt_id=str(attempt.id),
        app_id=credentials.app_id,
        config_id=credentials.config_id,
        graph_api_version=settings.meta_graph_version,
        sdk_url=settings.meta_sdk_url,
        extras={"setup": {}},
        message_origins=settings.meta_message_origins,
        dialog_url=f"{settings.meta_dialog_url}/{settings.meta_graph_version}/dialog/oauth",
        redirect_uri=redirect_uri(runtime),
    )


@router.post(
    "/embedded-signup/callback",
    responses={200: {"description": "connected"}, 202: {"description": "processing or pin_required"}},
)
async def callback(body: CallbackRequest, principal: AdminPrincipal, runtime: RuntimeDep) -> Response:
    received_at = time.monotonic()
    try:
        data = signup.CallbackInput(body, None, received_at)
        outcome = await signup.finish(runtime, user=principal.user, data=data)
    except AppError:
        signup_metrics.callback(outcome="rejected", seconds=time.monotonic() - received_at)
        raise
    label = (
        "pin_required"
        if outcome.body.get("status") == "pin_required"
        else OUTCOMES.get(outcome.status_code, "failed")
    )
    signup_metrics.callback(outcome=label, seconds=time.monotonic() - received_at)
    return JSONResponse(outcome.body, status_code=outcome.status_code)


@router.get("/embedded-signup/callback", status_code=303, response_class=RedirectResponse)
async def callback_redirect(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    db: SessionDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=1024)] = None,
    error_reason: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Meta's full-page dialog lands here; the signed state stands in for the CSRF header."""
    if principal.user.role is not Role.ADMIN:
        raise Forbidden
    if not state:
        return _back(error="invalid_state")
    try:
        if not code:
            await signup.cancel(db, runtime, user=principal.user, state_token=state, step="login")
            return _back(result="cancelled")
        data = signup.CallbackInput(
            CallbackRequest(code=code, state=state), redirect_uri(runtime), time.monotonic()
        )
        outcome = await signup.finish(runtime, user=principal.user, data=data)
    except AppError as error:
        return _back(error=error.code)
    if outcome.status_code >= 400:
        return _back(error=str(outcome.body.get("error", {}).get("code", "meta_error")))
    return _back(result=str(outcome.body.get("status") or "connected"))


def _back(**params: str) -> RedirectResponse:
    return RedirectResponse("/settings/whatsapp?" + urlencode(params), status_code=303)


@router.post("/embedded-signup/cancel", status_code=204)
async def cancel(
    body: CancelRequest, principal: AdminPrincipal, db: SessionDep, runtime: RuntimeDep
) -> Response:
    await signup.cancel(db, runtime, user=principal.user, state_token=body.state, step=body.step)
    return Response(status_code=204)


@router.post("/embedded-signup/error", status_code=204)
async def report_error(
    body: ErrorReport, principal: AdminPrincipal, db: SessionDep, runtime: RuntimeDep
) -> Response:
    await signup.report_error(db, runtime, user=principal.user, report=body)
    return Response(status_code=204)


@router.get("/connection/status", response_model=StatusResponse)
async def status(principal: PrincipalDep, db: SessionDep) -> StatusResponse:
    return status_response(await connection_view(db, organization_id=principal.user.organization_id))


@router.post("/connection/disconnect", response_model=DisconnectResponse)
async def disconnect(
    request: Request, body: DisconnectRequest, principal: AdminPrincipal, db: SessionDep, runtime: RuntimeDep
) -> DisconnectResponse:
    await connection_service.disconnect(
        db,
        runtime,
        user=principal.user,
        reason=body.reason,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return DisconnectResponse()


@router.post("/connection/pin", responses={200: {"description": "connected"}})
async def submit_pin(body: PinRequest, principal: AdminPrincipal, runtime: RuntimeDep) -> Response:
    outcome = await connection_service.submit_pin(runtime, user=principal.user, pin=body.pin)
    return JSONResponse(outcome.body, status_code=outcome.status_code)


@router.post("/connection/health-check", response_model=StatusResponse)
async def check_health(principal: AdminPrincipal, db: SessionDep, runtime: RuntimeDep) -> StatusResponse:
    """Check the token and the number now (at most every 10 s) and answer the refreshed status."""
    organization_id = principal.user.organization_id
    await health_check.check_organization(db, runtime, organization_id=organization_id)
    return status_response(await connection_view(db, organization_id=organization_id))
