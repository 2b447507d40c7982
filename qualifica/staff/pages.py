"""``/ops``: what support looks at during a guided activation (staff only), and the flag switch."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qualifica.accounts.guards import PagePrincipal, Principal, check_csrf
from qualifica.accounts.models import Role
from qualifica.db import utcnow
from qualifica.deps import CodecDep, SessionDep, SettingsDep
from qualifica.errors import Forbidden
from qualifica.flags import KNOWN_FLAGS, WHATSAPP_EMBEDDED_SIGNUP, evaluate, load_rules
from qualifica.staff import charts, stats
from qualifica.staff import flags as flag_changes
from qualifica.templating import render
from qualifica.whatsapp.status import connections_by_status

router = APIRouter(include_in_schema=False)
ACTIONS = {
    "global_on",
    "global_off",
    "global_clear",
    "percent_set",
    "percent_clear",
    "org_on",
    "org_off",
    "org_clear",
}


async def require_staff(principal: PagePrincipal, db: SessionDep) -> Principal:
    """Staff of Qualifica only: an organization's admin or member gets 403."""
    if principal.user.role is not Role.STAFF:
        # The unit of work rolls back on the way out, which expires the user the error page's layout
        # shows; detached first, it keeps its loaded attributes.
        db.expunge(principal.user)
        raise Forbidden
    return principal


StaffPage = Annotated[Principal, Depends(require_staff)]


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def _secs(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.1f} s".replace(".", ",")
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(stats.LOCAL).strftime("%d/%m %H:%M:%S")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


async def _flag_summary(db: SessionDep, default: bool, organizations: list[tuple[uuid.UUID, str]]) -> Any:
    rules = await load_rules(db)
    on = [
        name
        for org_id, name in organizations
        if evaluate(rules, WHATSAPP_EMBEDDED_SIGNUP, organization_id=org_id, default=default).value
    ]
    return {
        "key": WHATSAPP_EMBEDDED_SIGNUP,
        "default": default,
        "rows": [row for row in await flag_changes.list_flags(db) if row.key == WHATSAPP_EMBEDDED_SIGNUP],
        "enabled_for": len(on),
        "organizations": len(organizations),
    }


@router.get("/ops", response_class=HTMLResponse)
async def ops_page(
    request: Request,
    _: StaffPage,
    db: SessionDep,
    settings: SettingsDep,
    changed: str | None = None,
    error: str | None = None,
) -> Response:
    now = utcnow()
    events = await stats.funnel_events(db, since=now - timedelta(days=7))
    day, week = stats.funnel(events, now - timedelta(days=1)), stats.funnel(events, now - timedelta(days=7))
    organizations = await stats.organizations(db)
    connections = await connections_by_status(db)
    context = {
        "day": day,
        "week": week,
        "sampled": len(events) >= stats.MAX_EVENTS,
        "charts": {
            "day": charts.funnel_bars("Funil, 24 h", day.started, day.completed, day.cancelled, day.failed),
            "week": charts.funnel_bars(
                "Funil, 7 dias", week.started, week.completed, week.cancelled, week.failed
            ),
            "daily": charts.daily_columns(
                "Iniciadas e concluídas por dia",
                stats.daily(events, today=now.astimezone(stats.LOCAL).date()),
            ),
            "steps": charts.counted("Cancelamentos por etapa, 7 dias", week.cancelled_by_step, "cancelled"),
            "codes": charts.counted("Erros por código, 7 dias", week.failed_by_code, "failed"),
            "connections": charts.counted("Conexões por situação", sorted(connections.items()), "completed"),
        },
        "connections": connections,
        "attempts": await stats.recent_attempts(db),
        "live_connections": await stats.live_connections(db),
        "events": await stats.recent_events(db),
        "flag": await _flag_summary(db, not settings.is_production, organizations),
        "organizations": organizations,
        "segment": settings.segment_write_key is not None,
        "changed": changed == "1",
        "error": error is not None,
        "pct": pct,
        "secs": _secs,
        "when": when,
        "as_json": _json,
    }
    return render(request, "ops/index.html", context)


@router.post("/ops/flags")
async def change_flag(
    request: Request,
    principal: StaffPage,
    db: SessionDep,
    codec: CodecDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    action: Annotated[str, Form(max_length=32)] = "",
    percent: Annotated[str, Form(max_length=8)] = "",
    organization_id: Annotated[str, Form(max_length=64)] = "",
    key: Annotated[str, Form(max_length=128)] = WHATSAPP_EMBEDDED_SIGNUP,
) -> Response:
    """Post/redirect/get; every change is audited with the staff user's e-mail."""
    check_csrf(request, principal, codec, csrf_token)
    actor = flag_changes.Actor(label=principal.user.email, user_id=principal.user.id)
    try:
        if action not in ACTIONS or key not in KNOWN_FLAGS:
            raise ValueError(action)
        await _apply(db, key, action, percent, organization_id, actor)
    except (ValueError, flag_changes.FlagChangeRejected):
        await db.rollback()
        return RedirectResponse("/ops?error=flag#flag", status_code=303)
    return RedirectResponse("/ops?changed=1#flag", status_code=303)


async def _apply(
    db: SessionDep, key: str, action: str, percent: str, organization: str, actor: flag_changes.Actor
) -> None:
    scope, _, verb = action.partition("_")
    if scope == "percent":
        if verb == "set":
            await flag_changes.set_percent(db, key, percent=int(percent), actor=actor)
        else:
            await flag_changes.clear(db, key, organization_id=None, percent=True, actor=actor)
        return
    org_id = uuid.UUID(organization) if scope == "org" else None
    if verb == "clear":
        await flag_changes.clear(db, key, organization_id=org_id, percent=False, actor=actor)
    else:
        await flag_changes.set_enabled(db, key, enabled=verb == "on", organization_id=org_id, actor=actor)
