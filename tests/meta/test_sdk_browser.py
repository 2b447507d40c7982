"""Chromium drives a tiny page that uses the sandbox SDK: message shapes, origins, both orders, every end."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from html import escape
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from qualifica.meta.client import GraphClient
from qualifica.meta.sandbox import CANCEL_STEPS, Sandbox
from tests.support.browser import SCREENSHOTS, launch_chromium
from tests.support.live import serve_in_thread
from tests.support.meta import APP_ID, CONFIG_ID
from tests.support.sandbox import LiveSandbox

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
PAGE_JS = Path(__file__).parent / "e2e_page" / "page.js"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def page_app(sandbox_url: str) -> Starlette:
    async def index(request: Request) -> Response:
        extras = request.query_params.get("extras", '{"setup": {}}')
        sdk = (
            sandbox_url
            + "/sdk.js"
            + (("?" + request.query_params["sdkq"]) if "sdkq" in request.query_params else "")
        )
        html = (
            '<!doctype html><html lang="pt-BR"><head><meta charset="utf-8"><title>Teste</title>'
            '<script src="/page.js" defer></script></head>'
            f'<body data-app-id="{APP_ID}" data-config-id="{CONFIG_ID}" data-sdk="{escape(sdk)}" '
            f'data-extras="{escape(extras)}"><button id="connect">Conectar WhatsApp</button></body></html>'
        )
        # The app's own policy (ARCHITECTURE §10): scripts from self and the SDK host; popups keep the opener.
        headers = {
            "Content-Security-Policy": f"script-src 'self' {sandbox_url}",
            "Cross-Origin-Opener-Policy": "same-origin-allow-popups",
        }
        return HTMLResponse(html, headers=headers)

    async def script(_: Request) -> Response:
        return FileResponse(PAGE_JS, media_type="text/javascript")

    return Starlette(routes=[Route("/", index), Route("/page.js", script)])


@pytest.fixture(scope="module")
def page_origin(live_sandbox_server: LiveSandbox) -> Iterator[str]:
    with serve_in_thread(page_app(live_sandbox_server.url), health_path=None) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launch_chromium() as chromium:
        yield chromium


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(locale="pt-BR")
    page = await context.new_page()
    yield page
    await context.close()


async def run_login(
    page: Page, page_origin: str, *, query: str = "", expect_message: bool = True
) -> list[dict[str, Any]]:
    await page.goto(f"{page_origin}/{query}")
    await page.wait_for_function("() => window.__ready === true")
    async with page.expect_popup() as popup_info:
        await page.get_by_role("button", name="Conectar WhatsApp").click()
    popup = await popup_info.value
    if not popup.is_closed():  # an auto-closing popup may be gone before we start listening
        await popup.wait_for_event("close", timeout=15000)
    condition = "l.some(e => e.kind === 'callback')"
    if expect_message:
        condition += " && l.some(e => e.json && e.json.type === 'WA_EMBEDDED_SIGNUP')"
    await page.wait_for_function(f"() => {{ const l = window.__log; return {condition}; }}", timeout=5000)
    log: list[dict[str, Any]] = await page.evaluate("() => window.__log")
    return log


def es_events(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e["json"]
        for e in log
        if isinstance(e.get("json"), dict) and e["json"].get("type") == "WA_EMBEDDED_SIGNUP"
    ]


def callback(log: list[dict[str, Any]]) -> dict[str, Any]:
    (entry,) = [e for e in log if e["kind"] == "callback"]
    response: dict[str, Any] = entry["response"]
    return response


def kinds(log: list[dict[str, Any]]) -> list[str]:
    return ["es" if e.get("json") else e["kind"] for e in log if e["kind"] == "callback" or e.get("json")]


class TestFinish:
    @pytest.mark.parametrize("order", ["message_first", "callback_first"])
    async def test_finish_in_both_orders(
        self, page: Page, page_origin: str, live_sandbox: LiveSandbox, graph: GraphClient, order: str
    ) -> None:
        live_sandbox.sandbox.set_auto("finish", order=order)  # type: ignore[arg-type]
        log = await run_login(page, page_origin)
        (event,) = es_events(log)
        assert event["event"] == "FINISH" and event["version"] == 3
        assert set(event["data"]) == {"phone_number_id", "waba_id", "business_id"}
        messages = [e for e in log if e["kind"] == "message"]
        assert {m["origin"] for m in messages} == {live_sandbox.origin}
        assert all(isinstance(m["raw"], str) for m in messages)
        assert any(m["json"] is None for m in messages), "the SDK's non-JSON noise is posted too"
        response = callback(log)
        assert response["status"] == "connected"
        assert kinds(log) == (["es", "callback"] if order == "message_first" else ["callback", "es"])
        exchange = await graph.exchange_code(response["authResponse"]["code"])
        info = await graph.debug_token(exchange.access_token)
        assert event["data"]["waba_id"] in info.waba_hints

    @pytest.mark.parametrize(
        ("path", "event_name", "keys"),
        [
            ("finish_only_waba", "FINISH_ONLY_WABA", {"waba_id", "business_id"}),
            ("coexistence", "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING", {"waba_id"}),
        ],
    )
    async def test_other_finish_events(
        self, page: Page, page_origin: str, sandbox: Sandbox, path: str, event_name: str, keys: set[str]
    ) -> None:
        sandbox.set_auto(path, order="message_first")
        log = await run_login(page, page_origin)
        (event,) = es_events(log)
        assert (event["event"], set(event["data"])) == (event_name, keys)
        assert callback(log)["authResponse"]["code"]

    async def test_path_chosen_by_the_page_through_extras(
        self, page: Page, page_origin: str, sandbox: Sandbox
    ) -> None:
        extras = json.dumps({"setup": {}, "sandbox": {"path": "finish_new_waba", "order": "callback_first"}})
        seeded = len(sandbox.world.wabas)
        log = await run_login(page, page_origin, query="?extras=" + extras)
        assert es_events(log)[0]["event"] == "FINISH"
        assert kinds(log) == ["callback", "es"]
        assert len(sandbox.world.wabas) == seeded + 1


class TestTodaysPaths:
    @pytest.mark.parametrize(
        ("path", "event_name", "keys"),
        [
            ("finish_unverified_number", "FINISH", {"phone_number_id", "waba_id", "business_id"}),
            ("finish_no_number", "FINISH", {"waba_id", "business_id"}),
            ("finish_two_numbers_no_phone_id", "FINISH_ONLY_WABA", {"waba_id", "business_id"}),
        ],
    )
    async def test_v4_endings_walk_by_themselves(
        self, page: Page, page_origin: str, sandbox: Sandbox, path: str, event_name: str, keys: set[str]
    ) -> None:
        sandbox.set_auto(path, order="message_first")
        log = await run_login(page, page_origin)
        (event,) = es_events(log)
        assert (event["event"], set(event["data"]), event["version"]) == (event_name, keys, 4)
        if path == "finish_unverified_number":
            phone = sandbox.phone(event["data"]["phone_number_id"])
            assert phone.code_verification_status == "UNVERIFIED"
        if path == "finish_no_number":
            assert sandbox.world.phones_of(event["data"]["waba_id"]) == []
        assert callback(log)["status"] == "connected"

    async def test_two_wabas_without_the_session_event(
        self, page: Page, page_origin: str, sandbox: Sandbox
    ) -> None:
        sandbox.set_auto("finish_two_wabas_no_event", order="message_first")
        log = await run_login(page, page_origin, expect_message=False)
        assert es_events(log) == []  # the page gets the code only
        assert callback(log)["authResponse"]["code"]
        (flow,) = [f for f in sandbox.flows.values() if f.result is not None]
        assert sandbox.world.businesses[str(flow.business_id)].name == "Rede Prisma Imóveis"

    async def test_a_person_picks_todays_meta_in_the_scenario_panel(
        self, page: Page, page_origin: str, sandbox: Sandbox
    ) -> None:
        sandbox.set_auto(None)
        await page.goto(page_origin)
        await page.wait_for_function("() => window.__ready === true")
        async with page.expect_popup() as popup_info:
            await page.get_by_role("button", name="Conectar WhatsApp").click()
        popup = await popup_info.value
        await popup.get_by_text("Cenário do sandbox: a Meta de hoje").click()
        await popup.get_by_text("Junho de 2026").click()
        await popup.get_by_label("Limite de requisições da Meta").select_option("waba")
        await popup.get_by_role("button", name="Continuar como Ana").click()
        await popup.get_by_text("Costa Azul Corretora").click()
        await popup.get_by_role("button", name="Continuar").click()
        await popup.get_by_role("button", name="Continuar").click()  # its one WABA
        await popup.get_by_text("Adicionar um novo número").click()
        await popup.get_by_role("button", name="Continuar").click()
        await popup.get_by_role("button", name="Pular esta etapa").click()
        await popup.get_by_role("button", name="Permitir").click()
        async with popup.expect_event("close"):
            await popup.get_by_role("button", name="Concluir").click()
        await page.wait_for_function("() => window.__log.some(e => e.kind === 'callback')")
        log: list[dict[str, Any]] = await page.evaluate("() => window.__log")
        (event,) = es_events(log)
        assert (event["event"], event["version"]) == ("FINISH", 4)
        assert sandbox.phone(event["data"]["phone_number_id"]).code_verification_status == "UNVERIFIED"
        assert sandbox.scenario.token_shape == "june_2026"
        (failure,) = sandbox.scenario.failures["waba"]
        assert (failure.code, failure.regain_minutes) == (80007, 1)


class TestCancel:
    @pytest.mark.parametrize("step", CANCEL_STEPS)
    async def test_cancel_at_each_step(
        self, page: Page, page_origin: str, sandbox: Sandbox, step: str
    ) -> None:
        sandbox.set_auto(f"cancel:{step}")
        log = await run_login(page, page_origin)
        (event,) = es_events(log)
        assert event == {
            "type": "WA_EMBEDDED_SIGNUP",
            "event": "CANCEL",
            "data": {"current_step": step},
            "version": 3,
        }
        response = callback(log)
        assert response["authResponse"] is None and response["status"] != "connected"

    @pytest.mark.parametrize("field", ["error_code", "error_id"])
    async def test_user_reported_error(
        self, page: Page, page_origin: str, sandbox: Sandbox, field: str
    ) -> None:
        sandbox.set_error_field(field)  # type: ignore[arg-type]
        log = await run_login(page, page_origin, query="?sdkq=auto%3Derror%26order%3Dmessage_first")
        (event,) = es_events(log)
        data = event["data"]
        assert event["event"] == "CANCEL"
        assert set(data) == {"error_message", field, "session_id", "timestamp"}
        assert data[field] == "524126" and data["timestamp"].isdigit()
        assert callback(log)["authResponse"] is None

    async def test_closed_without_code(self, page: Page, page_origin: str, sandbox: Sandbox) -> None:
        sandbox.set_auto("close_no_code")
        log = await run_login(page, page_origin, expect_message=False)
        assert es_events(log) == []
        assert callback(log) == {"authResponse": None, "status": "unknown"}


class TestByHand:
    async def test_a_person_clicks_through_in_portuguese(
        self, page: Page, page_origin: str, sandbox: Sandbox
    ) -> None:
        sandbox.set_auto(None)
        await page.goto(page_origin)
        await page.wait_for_function("() => window.__ready === true")
        async with page.expect_popup() as popup_info:
            await page.get_by_role("button", name="Conectar WhatsApp").click()
        popup = await popup_info.value
        await popup.set_viewport_size({"width": 600, "height": 760})
        await popup.get_by_role("button", name="Continuar como Ana").click()
        await popup.get_by_role("heading", name="Selecione seu portfólio empresarial").wait_for()
        await popup.get_by_role("button", name="Continuar").click()
        await popup.get_by_role("heading", name="Escolha uma conta do WhatsApp Business").wait_for()
        await popup.get_by_role("button", name="Continuar").click()
        await popup.get_by_text("Adicionar um novo número").click()
        await popup.get_by_label("Nome de exibição").fill("Horizonte Imóveis Centro")
        if os.environ.get("UPDATE_DOCS_SCREENSHOTS"):
            await popup.screenshot(path=str(DOCS_IMAGES / "sandbox-popup.png"))
        await popup.get_by_role("button", name="Continuar").click()
        await popup.get_by_label("Código de verificação").fill("123456")
        await popup.get_by_role("button", name="Verificar").click()
        await popup.get_by_role("button", name="Permitir").click()
        await popup.get_by_role("heading", name="Tudo pronto!").wait_for()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await popup.screenshot(path=str(SCREENSHOTS / "sandbox-popup-final.png"))
        async with popup.expect_event("close"):
            await popup.get_by_role("button", name="Concluir").click()
        await page.wait_for_function("() => window.__log.some(e => e.kind === 'callback')")
        log: list[dict[str, Any]] = await page.evaluate("() => window.__log")
        (event,) = es_events(log)
        assert event["event"] == "FINISH"
        phone = sandbox.phone(event["data"]["phone_number_id"])
        assert (phone.verified_name, phone.code_verification_status) == (
            "Horizonte Imóveis Centro",
            "VERIFIED",
        )
        assert callback(log)["status"] == "connected"

    @pytest.mark.parametrize(("clicks", "expected"), [(1, "CANCEL"), (5, "FINISH")])
    async def test_closing_the_window_reports_the_screen(
        self, page: Page, page_origin: str, sandbox: Sandbox, clicks: int, expected: str
    ) -> None:
        """X on a step is a CANCEL there; X on the final screen still counts as FINISH.

        See docs/meta.md#popup-session-events.
        """
        sandbox.set_auto(None)
        await page.goto(page_origin)
        await page.wait_for_function("() => window.__ready === true")
        async with page.expect_popup() as popup_info:
            await page.get_by_role("button", name="Conectar WhatsApp").click()
        popup = await popup_info.value
        for _ in range(clicks):
            await popup.locator("button[type=submit]").click()
            await popup.wait_for_load_state()
        await popup.close(run_before_unload=True)
        await page.wait_for_function("() => window.__log.some(e => e.kind === 'callback')", timeout=5000)
        log: list[dict[str, Any]] = await page.evaluate("() => window.__log")
        (event,) = es_events(log)
        assert event["event"] == expected
        if expected == "CANCEL":
            assert event["data"] == {"current_step": "BUSINESS_ACCOUNT_SELECTION"}
        else:
            assert callback(log)["authResponse"]["code"]
