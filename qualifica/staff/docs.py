"""The OpenAPI description and its pages, staff only in production (§13); elsewhere FastAPI serves them.

In production the app is built without FastAPI's own ``/docs``, ``/redoc`` and ``/openapi.json`` and these
routes take their place behind the staff guard: signed out → 401 (or the login page in a browser), an
organization's admin or member → 403.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from qualifica.staff.pages import StaffPage

OPENAPI_PATH = "/openapi.json"
router = APIRouter(include_in_schema=False)


@router.get(OPENAPI_PATH)
async def openapi(request: Request, _: StaffPage) -> JSONResponse:
    app: FastAPI = request.app
    return JSONResponse(app.openapi())


@router.get("/docs")
async def swagger_ui(request: Request, _: StaffPage) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title=f"{request.app.title} — API")


@router.get("/redoc")
async def redoc(request: Request, _: StaffPage) -> HTMLResponse:
    return get_redoc_html(openapi_url=OPENAPI_PATH, title=f"{request.app.title} — API")
