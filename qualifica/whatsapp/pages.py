"""The back-office page ``/settings/whatsapp``: which panel to show first, and the texts it shows.

The page is rendered with every panel; ``static/whatsapp.js`` switches between them as the signup runs.
This module decides the panel a fresh page view starts on, from the connection's status, the feature flag
and the query the full-page redirect flow comes back with (``?result=...`` or ``?error=<code>``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from qualifica.accounts.guards import PagePrincipal
from qualifica.accounts.models import Role
from qualifica.deps import SessionDep
from qualifica.errors import AppError
from qualifica.observability.analytics import EventName, emit
from qualifica.templating import render
from qualifica.whatsapp import errors
from qualifica.whatsapp.events import described, last_received
from qualifica.whatsapp.models import ConnectionStatus
from qualifica.whatsapp.signup import signup_enabled
from qualifica.whatsapp.status import ConnectionView, connection_view, waiting_number
from qualifica.whatsapp.steps import progress_text, step_texts

router = APIRouter(include_in_schema=False)

WATCHDOG_MS = 60_000  # how long a half-finished popup flow may wait for its other half
WATCHDOG_RANGE = (100, 600_000)
# Codes whose remedy is to connect again: the page says "Sessão expirada. Clique para reconectar."
EXPIRED_CODES = frozenset({"session_expired", "token_invalid", "code_expired", "code_used"})
# Our own refusals the redirect flow can come back with, when no failed attempt explains them.
REDIRECT_ERRORS: dict[str, type[AppError]] = {
    error.code: error
    for error in (
        errors.InvalidState,
        errors.StateAlreadyUsed,
        errors.WabaNotGranted,
        errors.AlreadyConnected,
        errors.FeatureDisabled,
    )
}
AGENCY_TIMEZONE = ZoneInfo("America/Sao_Paulo")

PANELS = (
    "idle",
    "instructions",
    "connecting",
    "pin",
    "choice",
    "verification",
    "number",
    "active",
    "cancelled",
    "failed",
    "expired",
    "unavailable",
)
ADMIN_ONLY_PANELS = frozenset({"instructions"})
FAILED_TITLE = "Não foi possível conectar"
CHOICE_WABA_TITLE = "Qual conta do WhatsApp Business você quer conectar?"
CHOICE_NUMBER_TITLE = "Qual número você quer conectar?"
# A signup waiting for the admin (ARCHITECTURE §14) → the panel that asks for what it waits for.
WAITING_PANELS = {
    "pin_required": "pin",
    "choice_required": "choice",
    "verification_required": "verification",
    "number_required": "number",
}
BROKEN_TITLE = "A conexão com o WhatsApp foi interrompida"
# The template's texts that live in Python; those the script says too reach it in data-* attributes.
TEXTS = {
    "step_texts": step_texts(),
    "meta_error": errors.META_ERROR_MESSAGE,
    "failed_title": FAILED_TITLE,
    "broken_title": BROKEN_TITLE,
    "pin_format": errors.InvalidPin.message,
    "cancelled_message": errors.CANCELLED_MESSAGE,
    "expired_message": errors.SESSION_EXPIRED_MESSAGE,
    "code_format": errors.InvalidCode.message,
    "choice_waba_title": CHOICE_WABA_TITLE,
    "choice_number_title": CHOICE_NUMBER_TITLE,
    "code_sent_sms": "Enviamos o código por SMS. Ele chega em alguns instantes.",
    "code_sent_voice": "A Meta vai ligar para o número e dizer o código.",
}


@dataclass(frozen=True)
class Failure:
    message: str
    hint: str | None = None
    title: str = FAILED_TITLE


@dataclass(frozen=True)
class SettingsPage:
    # idle | connecting | pin | choice | verification | number | active | cancelled | failed | expired |
    # unavailable
    panel: str
    view: ConnectionView
    can_manage: bool
    failure: Failure | None
    step_text: str

    @property
    def waiting_number(self) -> str | None:
        """The number waiting for its verification code, as Meta displays it."""
        number = waiting_number(self.view.attempt) if self.panel == "verification" else None
        return number.display_phone_number if number else None

    @property
    def panels(self) -> tuple[str, ...]:
        """The panels the script may switch to (members never reach the instructions)."""
        return PANELS if self.can_manage else tuple(p for p in PANELS if p not in ADMIN_ONLY_PANELS)


def _failure(view: ConnectionView) -> Failure | None:
    """What went wrong, in the page's words: popup-reported errors get the PRD sentence around them."""
    error = view.error
    if error is None:
        return None
    attempt, connection = view.attempt, view.connection
    if connection is not None and connection.status is ConnectionStatus.ERROR:  # Meta cut a live one off
        return Failure(error.message, error.hint, BROKEN_TITLE)
    from_popup = attempt is not None and attempt.response is None
    return Failure(errors.meta_error_sentence(error.message) if from_popup else error.message, error.hint)


def _error_panel(code: str | None, failure: Failure | None) -> tuple[str, Failure | None]:
    if code in EXPIRED_CODES:
        return "expired", failure
    if failure is None:
        known = REDIRECT_ERRORS.get(code or "", errors.InvalidState)
        return "failed", Failure(str(known.message))
    return "failed", failure


def settings_page(
    view: ConnectionView, *, enabled: bool, is_admin: bool, result: str | None, error: str | None
) -> SettingsPage:
    failure = _failure(view)
    step_text = progress_text(view.attempt.step if view.attempt else None)
    panel, shown_failure = "idle", None
    if view.status == "active":
        panel = "active"
    elif view.status == "connecting":
        panel = "connecting"
    elif view.status in WAITING_PANELS:
        panel = WAITING_PANELS[view.status]
    elif not enabled:
        panel = "unavailable"
    elif error:
        panel, shown_failure = _error_panel(error, failure)
    elif result == "cancelled":
        panel = "cancelled"
    elif view.error is not None:
        panel, shown_failure = _error_panel(view.error.code, failure)
    return SettingsPage(panel, view, is_admin, shown_failure, step_text)


def local_date(moment: datetime | None) -> str | None:
    return moment.astimezone(AGENCY_TIMEZONE).strftime("%d/%m/%Y") if moment else None


def local_moment(moment: datetime | None) -> str | None:
    return moment.astimezone(AGENCY_TIMEZONE).strftime("%d/%m/%Y %H:%M") if moment else None


def watchdog_ms(raw: str | None) -> int:
    """A test may shorten the watchdog with ``?watchdog_ms=``; it only changes how long this page waits."""
    if raw is None or not raw.isdigit():
        return WATCHDOG_MS
    low, high = WATCHDOG_RANGE
    return min(max(int(raw), low), high)


async def _last_message(db: SessionDep, organization_id: uuid.UUID) -> str | None:
    event = await last_received(db, organization_id)
    return described(event, local_moment(event.occurred_at) or "") if event is not None else None


@router.get("/settings/whatsapp", response_class=HTMLResponse)
async def whatsapp_settings(
    request: Request,
    principal: PagePrincipal,
    db: SessionDep,
    result: Annotated[str | None, Query(max_length=32)] = None,
    error: Annotated[str | None, Query(max_length=64)] = None,
    watchdog: Annotated[str | None, Query(alias="watchdog_ms", max_length=8)] = None,
) -> Response:
    user = principal.user
    view = await connection_view(db, organization_id=user.organization_id)
    enabled = await signup_enabled(db, request.app.state.runtime, user.organization_id)
    page = settings_page(view, enabled=enabled, is_admin=user.role is Role.ADMIN, result=result, error=error)
    await emit(db, EventName.SETUP_SCREEN_VIEWED, organization_id=user.organization_id, user_id=user.id)
    settings = request.app.state.settings
    return render(
        request,
        "settings_whatsapp.html",
        {
            "page": page,
            "panels": page.panels,
            "view": view,
            "connection": view.connection,
            "connected_on": local_date(view.connection.connected_at if view.connection else None),
            "last_webhook_on": local_moment(view.connection.last_webhook_at if view.connection else None),
            "last_message": await _last_message(db, user.organization_id),
            "watchdog_ms": watchdog_ms(watchdog),
            "sdk_url": settings.meta_sdk_url,
            "came_back": result is not None or error is not None,
            **TEXTS,
        },
    )
