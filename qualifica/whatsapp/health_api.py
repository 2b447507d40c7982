"""``POST /api/v1/whatsapp/connection/health-check``: the page's "check now" (org admin, CSRF)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from qualifica.deps import AdminPrincipal, SessionDep
from qualifica.whatsapp import health
from qualifica.whatsapp.api import RuntimeDep
from qualifica.whatsapp.errors import NotConnected
from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection
from qualifica.whatsapp.schemas import StatusResponse
from qualifica.whatsapp.status import connection_view, status_response

router = APIRouter(prefix="/api/v1/whatsapp", tags=["whatsapp"])


@router.post("/connection/health-check", response_model=StatusResponse)
async def health_check(principal: AdminPrincipal, db: SessionDep, runtime: RuntimeDep) -> StatusResponse:
    """Check the token and the number now (at most every 10 s) and answer the refreshed status."""
    organization_id = principal.user.organization_id
    connection_id = await db.scalar(
        select(WhatsAppConnection.id).where(
            WhatsAppConnection.organization_id == organization_id,
            WhatsAppConnection.status != ConnectionStatus.DISCONNECTED,
        )
    )
    if connection_id is None:
        raise NotConnected
    await db.commit()  # end the read so the check's own transactions are not waiting on this one (SQLite)
    await health.check_now(runtime, connection_id)
    return status_response(await connection_view(db, organization_id=organization_id))
