"""The home page with the setup checklist (the WhatsApp page lives in ``qualifica.whatsapp.pages``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from qualifica.accounts.guards import PagePrincipal
from qualifica.deps import SessionDep
from qualifica.templating import render
from qualifica.whatsapp.status import connection_view

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    view = await connection_view(db, organization_id=principal.user.organization_id)
    return render(request, "home.html", {"view": view})
