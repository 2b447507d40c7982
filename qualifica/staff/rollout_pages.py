"""``/ops/rollout`` (staff only): the pilots against the PRD's 80 % bar and the phase staff advance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qualifica.accounts.guards import check_csrf
from qualifica.db import utcnow
from qualifica.deps import CodecDep, SessionDep
from qualifica.staff import rollout
from qualifica.staff.pages import StaffPage, pct, when
from qualifica.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/ops/rollout", response_class=HTMLResponse)
async def rollout_page(request: Request, _: StaffPage, db: SessionDep, mudou: str = "") -> Response:
    pilots = await rollout.pilots(db, now=utcnow())
    current = await rollout.current_phase(db)
    context = {
        "pilots": pilots,
        "overall": rollout.overall(pilots),
        "bar": rollout.BAR,
        "phase": current.phase if current is not None else rollout.Phase.STAGING,
        "phase_row": current,
        "phases": rollout.LABELS,
        "changed": mudou == "1",
        "pct": pct,
        "when": when,
    }
    return render(request, "ops/rollout.html", context)


@router.post("/ops/rollout")
async def change_phase(
    request: Request,
    principal: StaffPage,
    db: SessionDep,
    codec: CodecDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    phase: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Post/redirect/get; the change is audited with the staff user's e-mail."""
    check_csrf(request, principal, codec, csrf_token)
    try:
        wanted = rollout.Phase(phase)
    except ValueError:
        return RedirectResponse("/ops/rollout", status_code=303)
    await rollout.set_phase(db, wanted, changed_by=principal.user.email, actor_user_id=principal.user.id)
    return RedirectResponse("/ops/rollout?mudou=1", status_code=303)
