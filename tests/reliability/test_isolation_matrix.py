"""Every route of the app × (anonymous, member, admin of another organization, missing CSRF) → refused.

The routes are enumerated from the running app's router, so a new endpoint fails ``test_every_route_is_in
_the_matrix`` until someone decides who may call it. Where a caller is allowed (a member reading the status,
another organization's admin reading *its own* status), the matrix says so and the test checks that the
answer holds nothing of our organization.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization, Role, User
from qualifica.meta.sandbox import Sandbox
from tests.support.accounts import Credentials, credentials
from tests.support.factories import add_user

W = "/api/v1/whatsapp"
# (method, path) → expected status for: anonymous, member (same organization), outsider (admin of another
# organization, our state in the body), no_csrf (our admin, cookies but no X-CSRF-Token). "ok:<status>"
# means allowed and scoped to the caller's own organization; None: not applicable (a GET needs no CSRF).
Expect = tuple[Any, Any, Any, Any]
MATRIX: dict[tuple[str, str], Expect] = {
    ("POST", "/api/v1/auth/logout"): (401, "ok:204", "ok:204", 403),
    ("GET", "/api/v1/organization"): (401, "ok:200", "ok:200", None),
    ("PATCH", "/api/v1/organization"): (401, 403, "ok:200", 403),
    ("POST", f"{W}/embedded-signup/start"): (401, 403, "ok:200", 403),
    ("POST", f"{W}/embedded-signup/callback"): (401, 403, 403, 403),
    ("GET", f"{W}/embedded-signup/callback"): (401, 403, "redirect:forbidden", None),
    ("POST", f"{W}/embedded-signup/cancel"): (401, 403, 403, 403),
    ("POST", f"{W}/embedded-signup/error"): (401, 403, 403, 403),
    ("GET", f"{W}/connection/status"): (401, "ok:200", "ok:200", None),
    ("POST", f"{W}/connection/disconnect"): (401, 403, 404, 403),
    ("POST", f"{W}/connection/pin"): (401, 403, 409, 403),
    ("POST", f"{W}/connection/health-check"): (401, 403, 404, 403),
    # §14: nothing of another organization's waits for this admin's choice, code or number
    ("POST", f"{W}/embedded-signup/choose"): (401, 403, 404, 403),
    ("POST", f"{W}/connection/verification/request"): (401, 403, 409, 403),
    ("POST", f"{W}/connection/verification/verify"): (401, 403, 409, 403),
    ("POST", f"{W}/connection/number"): (401, 403, 409, 403),
    ("GET", "/"): (303, "ok:200", "ok:200", None),
    ("GET", "/settings/whatsapp"): (303, "ok:200", "ok:200", None),
    ("GET", "/ops"): (303, 403, 403, None),
    ("POST", "/ops/flags"): (303, 403, 403, 403),
    # §17: staff only, whatever the organization named in the path
    ("GET", "/ops/organizations"): (303, 403, 403, None),
    ("GET", "/ops/organizations/{organization_id}"): (303, 403, 403, None),
    ("POST", "/ops/organizations/{organization_id}/invitations"): (303, 403, 403, 403),
    ("POST", "/api/v1/ops/organizations/{organization_id}/invitations"): (401, 403, 403, 403),
}
NOBODYS_ATTEMPT = "00000000-0000-4000-8000-000000000001"
# Open by design, each with its own guard, checked in ``test_open_routes_have_their_own_guard``.
OPEN = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", f"{W}/webhook"),
    ("POST", f"{W}/webhook"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/static"),
    # the invitation's signed, single-use token is the guard (§17)
    ("GET", "/convite/{token}"),
    ("POST", "/convite/{token}"),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            items = [(c.methods, c.path) for c in contexts()]
        else:
            items = [(getattr(route, "methods", None), str(getattr(route, "path", "")))]
        for methods, path in items:
            for method in sorted(methods or {"GET"}):
                if method != "HEAD":
                    found.add((method, path))
    return found


def test_every_route_is_in_the_matrix(app: FastAPI) -> None:
    routes = app_routes(app)
    assert routes - set(MATRIX) - OPEN == set(), "a new route: add it to MATRIX (who may call it) or OPEN"
    assert set(MATRIX) | OPEN <= routes, "the matrix names a route the app no longer has"


def body_for(path: str, state: str) -> dict[str, object]:
    bodies: dict[str, dict[str, object]] = {
        f"{W}/embedded-signup/callback": {"code": "AQ-some-code", "state": state},
        f"{W}/embedded-signup/cancel": {"state": state, "step": "PERMISSIONS"},
        f"{W}/embedded-signup/error": {"state": state, "error_code": "1", "error_message": "x"},
        f"{W}/connection/pin": {"pin": "123456"},
        f"{W}/embedded-signup/choose": {"attempt_id": NOBODYS_ATTEMPT, "waba_id": "1234567890"},
        f"{W}/connection/verification/request": {"method": "sms"},
        f"{W}/connection/verification/verify": {"code": "123456"},
        f"{W}/connection/number": {
            "country_code": "55",
            "phone_number": "11987654321",
            "verified_name": "Teste",
        },
        f"{W}/connection/disconnect": {},
        "/api/v1/organization": {"name": "Outro nome"},
        "/ops/flags": {},
    }
    return bodies.get(path, {})


class World:
    def __init__(self, app: FastAPI, ours: User, member: User, outsider: User, state: str, ids: list[str]):
        self.app, self.ours, self.member, self.outsider, self.state, self.ids = (
            app,
            ours,
            member,
            outsider,
            state,
            ids,
        )

    async def creds(self, user: User) -> Credentials:
        return await credentials(self.app.state.settings, user)


@pytest.fixture
async def world(app: FastAPI, db: AsyncSession, sandbox: Sandbox) -> World:
    """Our organization connected, its member, and the admin of another organization."""
    ours = await add_user(db)
    organization = await db.get_one(Organization, ours.organization_id)
    member = await add_user(db, role=Role.MEMBER, organization=organization)
    outsider = await add_user(db)
    await db.commit()
    mine = await credentials(app.state.settings, ours)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", cookies=mine.cookies) as http:
        state = (await http.post(f"{W}/embedded-signup/start", headers=mine.headers)).json()["state"]
        result = sandbox.complete_signup()
        body = {"code": result.code, "state": state, "event": result.event, **result.data}
        connected = await http.post(f"{W}/embedded-signup/callback", json=body, headers=mine.headers)
    assert connected.status_code == 200, connected.text
    ids = [str(ours.organization_id), str(connected.json()["connection_id"]), result.waba_id or ""]
    return World(app, ours, member, outsider, mine_state(app, ours), ids)


def mine_state(app: FastAPI, user: User) -> str:
    """A valid state of our organization and admin (bound to an attempt id nobody started)."""
    import uuid

    from qualifica.security.state import SignupState

    return str(app.state.runtime.signer.sign(SignupState(uuid.uuid4(), user.organization_id, user.id)))


async def call(
    app: FastAPI, method: str, path: str, body: dict[str, object], creds: Credentials | None, csrf: bool
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    cookies = creds.cookies if creds else {}
    headers = dict(creds.headers) if creds and csrf else {}
    if not path.startswith("/api/"):
        headers["Accept"] = "text/html"  # a browser's page view
    async with httpx.AsyncClient(transport=transport, base_url="http://t", cookies=cookies) as http:
        if method == "GET":
            params = {"code": "x", "state": str(body.get("state", ""))} if "callback" in path else None
            return await http.get(path, params=params, headers=headers)
        return await http.request(method, path, json=body, headers=headers)


def check(response: httpx.Response, expected: Any, world: World, *, stranger: bool = True) -> None:
    where = f"{response.request.method} {response.request.url.path}"
    if isinstance(expected, int):
        assert response.status_code == expected, (where, response.status_code, response.text[:200])
        if expected in (401, 403) and response.headers.get("content-type", "").startswith("application/json"):
            assert response.json()["error"]["code"] in {"not_authenticated", "forbidden", "csrf_failed"}
        if expected == 303:
            assert response.headers["location"].startswith("/login"), where
    elif expected.startswith("redirect:"):
        assert response.status_code == 303 and expected.split(":")[1] in response.headers["location"], where
    else:
        assert response.status_code == int(expected.split(":")[1]), (where, response.text[:200])
    for secret_id in world.ids[1:] if stranger else ():  # nothing of ours reaches another organization
        assert secret_id not in response.text, where


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
async def test_refused_unless_allowed_and_scoped(world: World, method: str, path: str) -> None:
    anonymous, member, outsider, no_csrf = MATRIX[(method, path)]
    body = body_for(path, world.state)
    check(await call(world.app, method, path, body, None, csrf=False), anonymous, world)
    as_member = await call(world.app, method, path, body, await world.creds(world.member), csrf=True)
    check(as_member, member, world, stranger=False)
    check(
        await call(world.app, method, path, body, await world.creds(world.outsider), csrf=True),
        outsider,
        world,
    )
    if no_csrf is not None:
        response = await call(world.app, method, path, body, await world.creds(world.ours), csrf=False)
        assert response.status_code == no_csrf, (path, response.text[:200])
    # our organization is untouched by all of the above
    ours = await world.creds(world.ours)
    status = await call(world.app, "GET", f"{W}/connection/status", {}, ours, csrf=True)
    assert status.json()["status"] == "active"


async def test_an_ended_session_is_anonymous_everywhere(world: World) -> None:
    """Our admin's cookies after logout (copied before it, as an attacker would) open no route at all."""
    ended = await world.creds(world.ours)
    logout = await call(world.app, "POST", "/api/v1/auth/logout", {}, ended, csrf=True)
    assert logout.status_code == 204
    for method, path in sorted(MATRIX):
        anonymous = MATRIX[(method, path)][0]
        check(
            await call(world.app, method, path, body_for(path, world.state), ended, csrf=True),
            anonymous,
            world,
        )
    ours = await world.creds(world.ours)
    status = await call(world.app, "GET", f"{W}/connection/status", {}, ours, csrf=True)
    assert status.json()["status"] == "active"


async def test_cross_site_logins_are_refused(world: World) -> None:
    """Login CSRF: another site cannot sign a victim's browser into an account, by API or by form."""
    transport = httpx.ASGITransport(app=world.app)
    body = {"email": world.outsider.email, "password": "whatever-it-is"}
    evil = {"Origin": "https://attacker.example"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        api = await http.post("/api/v1/auth/login", json=body, headers=evil)
        form = await http.post("/login", data=body, headers=evil | {"Accept": "text/html"})
    assert api.status_code == form.status_code == 403
    assert api.json()["error"]["code"] == "csrf_failed"


async def test_open_routes_have_their_own_guard(world: World) -> None:
    """Meta's webhook is signed, its handshake needs the verify token, login needs the password."""
    app = world.app
    unsigned = await call(app, "POST", f"{W}/webhook", {"object": "whatsapp_business_account"}, None, False)
    assert unsigned.status_code == 401
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        params = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
        assert (await http.get(f"{W}/webhook", params=params)).status_code == 403
        wrong = {"email": world.ours.email, "password": "not-the-password"}
        assert (await http.post("/api/v1/auth/login", json=wrong)).status_code == 401
        forged = "/convite/eyJpIjoiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIn0.x.y"
        assert (await http.get(forged)).status_code == 410
        assert (
            await http.post(forged, data={"password": "x" * 12, "confirmation": "x" * 12})
        ).status_code == 410
        for path in ("/healthz", "/readyz", "/metrics"):
            response = await http.get(path)
            assert response.status_code == 200
            assert all(secret_id not in response.text for secret_id in world.ids[1:])


async def test_another_organization_can_neither_take_nor_disturb_ours(
    world: World, sandbox: Sandbox, db: AsyncSession
) -> None:
    """ARCHITECTURE §12 across tenants: another agency's start leaves our open attempt alone, and its
    signup of our WABA ends 409 ``waba_in_use`` with our connection and subscription untouched."""
    app, ours, outsider = world.app, await world.creds(world.ours), await world.creds(world.outsider)
    await call(app, "POST", f"{W}/connection/disconnect", {}, ours, csrf=True)
    mine = await call(app, "POST", f"{W}/embedded-signup/start", {}, ours, csrf=True)
    theirs = await call(app, "POST", f"{W}/embedded-signup/start", {}, outsider, csrf=True)
    assert (mine.status_code, theirs.status_code) == (200, 200)
    result = sandbox.complete_signup()  # our WABA again
    body = {"code": result.code, "state": mine.json()["state"], "event": result.event, **result.data}
    assert (
        await call(app, "POST", f"{W}/embedded-signup/callback", body, ours, csrf=True)
    ).status_code == 200
    sandbox.clear_requests()
    stolen = sandbox.complete_signup()
    body = {"code": stolen.code, "state": theirs.json()["state"], "event": stolen.event, **stolen.data}
    answer = await call(app, "POST", f"{W}/embedded-signup/callback", body, outsider, csrf=True)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "waba_in_use"
    for secret_id in world.ids[1:]:
        assert secret_id not in answer.text
    assert sandbox.requests("register") == []
    assert [r.method for r in sandbox.requests("subscribed_apps")] == ["POST"]  # nothing unsubscribed
    status = await call(app, "GET", f"{W}/connection/status", {}, ours, csrf=True)
    assert status.json()["status"] == "active"
    assert status.json()["connection"]["waba_id"] == result.waba_id
