"""The WhatsApp connection API (ARCHITECTURE §4): thin handlers over the signup and connection services."""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from qualifica.accounts.guards import AdminPrincipal, PrincipalDep
from qualifica.accounts.models import Organization, Role
from qualifica.accounts.profile import business_prefill
from qualifica.db import utcnow
from qualifica.deps import RuntimeDep, SessionDep
from qualifica.errors import (
    AppError,
    CSRFFailed,
    Forbidden,
    InvalidRequest,
    MalformedJSON,
    NotAuthenticated,
    error_responses,
)
from qualifica.meta.credentials import effective_credentials
from qualifica.observability import signup_metrics
from qualifica.runtime import Runtime
from qualifica.whatsapp import connection as connection_service
from qualifica.whatsapp import health_check, signup, verification
from qualifica.whatsapp.errors import (
    AlreadyConnected,
    AttemptSuperseded,
    FeatureDisabled,
    InvalidChoice,
    InvalidCode,
    InvalidNumber,
    InvalidPin,
    InvalidState,
    MetaFailure,
    NoNumberRequired,
    NoPinRequired,
    NotConnected,
    NoVerificationRequired,
    PinMismatch,
    RateLimited,
    SessionExpired,
    StateAlreadyUsed,
    VerificationFailed,
    WabaNotGranted,
)
from qualifica.whatsapp.outcomes import AttemptOutcome
from qualifica.whatsapp.schemas import (
    CallbackDone,
    CallbackPending,
    CallbackRequest,
    CancelRequest,
    ChooseRequest,
    DisconnectRequest,
    DisconnectResponse,
    ErrorReport,
    NumberRequest,
    PinRequest,
    StartResponse,
    StatusResponse,
    VerificationAnswer,
    VerificationCodeRequest,
    VerifyCodeRequest,
)
from qualifica.whatsapp.status import connection_view, status_response

# Every route may fail unexpectedly (500); each documents the errors of its guard, its body and its rules.
router = APIRouter(prefix="/api/v1/whatsapp", tags=["whatsapp"], responses=error_responses(AppError))
CALLBACK_PATH = "/api/v1/whatsapp/embedded-signup/callback"
MEMBER = (NotAuthenticated,)
ADMIN = (NotAuthenticated, CSRFFailed, Forbidden)
BODY = (MalformedJSON, InvalidRequest)
STATE = (InvalidState, SessionExpired)
CONNECTED: dict[int | str, dict[str, Any]] = {200: {"model": CallbackDone, "description": "connected"}}
PENDING: dict[int | str, dict[str, Any]] = {
    202: {
        "model": CallbackPending,
        "description": "processing (poll the status), or waiting for the admin: pin_required, "
        "choice_required (with choices), verification_required, number_required",
    }
}


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def redirect_uri(runtime: Runtime) -> str:
    return runtime.settings.base_url + CALLBACK_PATH


@router.post(
    "/embedded-signup/start",
    response_model=StartResponse,
    responses=error_responses(*ADMIN, FeatureDisabled, AlreadyConnected),
)
async def start(
    request: Request, principal: AdminPrincipal, db: SessionDep, runtime: RuntimeDep
) -> StartResponse:
    attempt, state = await signup.start(
        db, runtime, user=principal.user, ip=client_ip(request), user_agent=request.headers.get("user-agent")
    )
    settings = runtime.settings
    credentials = effective_credentials(settings)
    # §17: Meta's form prefilled with the organization's profile, only with what it filled in
    organization = await db.get_one(Organization, principal.user.organization_id)
    business = business_prefill(organization, utcnow())
    return StartResponse(
        state=state,
        attempt_id=str(attempt.id),
        app_id=credentials.app_id,
        config_id=credentials.config_id,
        graph_api_version=settings.meta_graph_version,
        sdk_url=settings.meta_sdk_url,
        extras={"setup": {"business": business} if business else {}},
        message_origins=settings.meta_message_origins,
        dialog_url=f"{settings.meta_dialog_url}/{settings.meta_graph_version}/dialog/oauth",
        redirect_uri=redirect_uri(runtime),
    )


@router.post(
    "/embedded-signup/callback",
    responses={
        **CONNECTED,
        **PENDING,
        **error_responses(
            *ADMIN,
            *BODY,
            *STATE,
            WabaNotGranted,
            FeatureDisabled,
            StateAlreadyUsed,
            AlreadyConnected,
            MetaFailure,
        ),
    },
)
async def callback(body: CallbackRequest, principal: AdminPrincipal, runtime: RuntimeDep) -> Response:
    received_at = time.monotonic()
    try:
        data = signup.CallbackInput(body, None, received_at)
        outcome = await signup.finish(runtime, user=principal.user, data=data)
    except AppError:
        signup_metrics.callback(outcome="rejected", seconds=time.monotonic() - received_at)
        raise
    signup_metrics.callback(outcome=outcome.label, seconds=time.monotonic() - received_at)
    return _answer(outcome)


def _answer(outcome: AttemptOutcome) -> Response:
    return JSONResponse(outcome.content(), status_code=outcome.status_code)


@router.get(
    "/embedded-signup/callback",
    status_code=303,
    response_class=RedirectResponse,
    responses=error_responses(*MEMBER, Forbidden, InvalidRequest),
)
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
    match outcome.body:
        case CallbackPending(status=status):
            return _back(result=status)
        case CallbackDone():
            return _back(result="connected")
        case failed:
            return _back(error=failed.error.code)


def _back(**params: str) -> RedirectResponse:
    return RedirectResponse("/settings/whatsapp?" + urlencode(params), status_code=303)


@router.post("/embedded-signup/cancel", status_code=204, responses=error_responses(*ADMIN, *BODY, *STATE))
async def cancel(
    body: CancelRequest, principal: AdminPrincipal, db: SessionDep, runtime: RuntimeDep
) -> Response:
    await signup.cancel(db, runtime, user=principal.user, state_token=body.state, step=body.step)
    return Response(status_code=204)


@router.post("/embedded-signup/error", status_code=204, responses=error_responses(*ADMIN, *BODY, *STATE))
async def report_error(
    body: ErrorReport, principal: AdminPrincipal, db: SessionDep, runtime: RuntimeDep
) -> Response:
    await signup.report_error(db, runtime, user=principal.user, report=body)
    return Response(status_code=204)


@router.get("/connection/status", response_model=StatusResponse, responses=error_responses(*MEMBER))
async def status(principal: PrincipalDep, db: SessionDep) -> StatusResponse:
    return status_response(await connection_view(db, organization_id=principal.user.organization_id))


@router.post(
    "/connection/disconnect",
    response_model=DisconnectResponse,
    responses=error_responses(*ADMIN, *BODY, NotConnected),
)
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


@router.post(
    "/connection/pin",
    responses={
        **CONNECTED,
        **error_responses(*ADMIN, *BODY, InvalidPin, PinMismatch, NoPinRequired, SessionExpired, MetaFailure),
    },
)
async def submit_pin(body: PinRequest, principal: AdminPrincipal, runtime: RuntimeDep) -> Response:
    return _answer(await connection_service.submit_pin(runtime, user=principal.user, pin=body.pin))


@router.post(
    "/connection/health-check",
    response_model=StatusResponse,
    responses=error_responses(*ADMIN, NotConnected),
)
async def check_health(principal: AdminPrincipal, db: SessionDep, runtime: RuntimeDep) -> StatusResponse:
    """Check the token and the number now (at most every 10 s) and answer the refreshed status."""
    organization_id = principal.user.organization_id
    await (
        db.commit()
    )  # end the request's read (the principal) so the check's writes never wait on it (SQLite)
    await health_check.check_organization(runtime, organization_id=organization_id)
    return status_response(await connection_view(db, organization_id=organization_id))


@router.post(
    "/embedded-signup/choose",
    responses={
        **CONNECTED,
        **PENDING,
        **error_responses(
            *ADMIN, *BODY, InvalidChoice, AttemptSuperseded, WabaNotGranted, SessionExpired, MetaFailure
        ),
    },
)
async def choose(body: ChooseRequest, principal: AdminPrincipal, runtime: RuntimeDep) -> Response:
    """The WABA (and number) the admin picked among the callback's ``choices``; answers as the callback."""
    received_at = time.monotonic()
    outcome = await signup.choose(runtime, user=principal.user, body=body, received_at=received_at)
    return _answer(outcome)


VERIFICATION_ERRORS = (*ADMIN, *BODY, SessionExpired, VerificationFailed, RateLimited, MetaFailure)


@router.post(
    "/connection/verification/request",
    response_model=VerificationAnswer,
    responses=error_responses(*VERIFICATION_ERRORS, NoVerificationRequired),
)
async def request_verification_code(
    body: VerificationCodeRequest, principal: AdminPrincipal, runtime: RuntimeDep
) -> VerificationAnswer:
    """Meta sends the number's 6-digit code by SMS or voice call (in Portuguese)."""
    return await verification.request_code(runtime, user=principal.user, method=body.method)


@router.post(
    "/connection/verification/verify",
    responses={
        **CONNECTED,
        **PENDING,
        **error_responses(*VERIFICATION_ERRORS, InvalidCode, NoVerificationRequired),
    },
)
async def verify_code(body: VerifyCodeRequest, principal: AdminPrincipal, runtime: RuntimeDep) -> Response:
    """The code the number received; then registration goes on as after the callback."""
    received_at = time.monotonic()
    outcome = await verification.verify(
        runtime, user=principal.user, code=body.code.strip(), received_at=received_at
    )
    return _answer(outcome)


@router.post(
    "/connection/number",
    response_model=VerificationAnswer,
    responses=error_responses(*VERIFICATION_ERRORS, InvalidNumber, NoNumberRequired),
)
async def add_number(
    body: NumberRequest, principal: AdminPrincipal, runtime: RuntimeDep
) -> VerificationAnswer:
    """Add the number to the WABA the signup connected; it then waits for its verification code."""
    return await verification.add_number(runtime, user=principal.user, body=body)
