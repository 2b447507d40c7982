"""A page object for the WhatsApp connection page, and the live server the tests drive it against."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import User
from qualifica.config import Settings
from qualifica.meta.sandbox import Sandbox
from qualifica.meta.sandbox.scenario import Order
from qualifica.observability.models import AnalyticsEvent
from tests.support.axe import assert_accessible
from tests.support.browser import SCREENSHOTS
from tests.support.factories import PASSWORD

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
SETTINGS_PATH = "/settings/whatsapp"
VIEWPORT = {"width": 1120, "height": 820}

CANCELLED = "Conexão cancelada. Clique para tentar novamente."
EXPIRED = "Sessão expirada. Clique para reconectar."
REQUIREMENTS = [
    "Você precisará de uma conta do Facebook Business",
    "Tenha em mãos o número de telefone que será usado",
    "O número deve estar no WhatsApp Business ou disponível para migração",
]


def meta_error(message: str) -> str:
    return f"Não foi possível conectar. Erro: {message}. Entre em contato com suporte."


@dataclass(frozen=True)
class Live:
    url: str
    app: FastAPI
    settings: Settings

    @property
    def sandbox(self) -> Sandbox:
        sandbox: Sandbox = self.app.state.sandbox
        return sandbox

    @property
    def on_sqlite(self) -> bool:
        return self.settings.database_url.startswith("sqlite")


@dataclass
class Pilot:
    """One signed-in user's tab on the page, with what the browser printed and where screenshots go."""

    live: Live
    db: AsyncSession
    user: User
    context: BrowserContext
    page: Page
    test_name: str
    console: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.organization_id = self.user.organization_id  # read once: expire_all() would make it lazy

    @classmethod
    async def open(
        cls,
        browser: Browser,
        live: Live,
        db: AsyncSession,
        user: User,
        *,
        test_name: str,
        viewport: dict[str, int] = VIEWPORT,
    ) -> Pilot:
        context = await browser.new_context(locale="pt-BR", base_url=live.url, viewport=viewport)  # type: ignore[arg-type]
        answer = await context.request.post(
            "/api/v1/auth/login", data={"email": user.email, "password": PASSWORD}
        )
        assert answer.ok, await answer.text()
        page = await context.new_page()
        pilot = cls(live, db, user, context, page, re.sub(r"[^\w.-]+", "_", test_name))
        page.on("console", pilot._record)
        page.on("pageerror", lambda error: pilot.console.append(f"pageerror: {error}"))
        return pilot

    def _record(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")

    async def close(self) -> None:
        await self.context.close()

    # -- the page ----------------------------------------------------------------------------------
    @property
    def root(self) -> Locator:
        return self.page.locator("#whatsapp")

    def button(self, name: str) -> Locator:
        return self.page.get_by_role("button", name=name, exact=True)

    def text(self, words: str) -> Locator:
        """Words shown in the current panel (the live region repeats some of them for screen readers)."""
        return self.page.locator("#whatsapp [data-slot]").get_by_text(words)

    def heading(self, name: str) -> Locator:
        return self.page.get_by_role("heading", name=name, exact=True)

    def alert(self) -> Locator:
        """The panel's visible message (an outcome or a form's error); the live region says it aloud."""
        return self.page.locator("section[data-panel]:not([hidden]) .alert:is(.error, .warn):not([hidden])")

    @property
    def live_region(self) -> Locator:
        """The page's one polite live region: what a screen reader announces."""
        return self.page.locator("#whatsapp [data-live]")

    async def goto(self, path: str = SETTINGS_PATH) -> None:
        await self.page.goto(path)
        await self.heading("Conexão WhatsApp").wait_for()

    async def panel(self) -> str | None:
        return await self.root.get_attribute("data-panel")

    async def expect_panel(self, name: str, wait_ms: float = 10_000) -> None:
        await expect(self.root).to_have_attribute("data-panel", name, timeout=wait_ms)
        await expect(self.page.locator(f'section[data-panel="{name}"]')).to_be_visible()
        await assert_accessible(self.page, f"panel {name}")

    async def open_instructions(self) -> None:
        await self.button("Conectar WhatsApp").click()
        await self.heading("Antes de começar").wait_for()

    async def connect(self, path: str = "finish", order: Order = "message_first") -> None:
        """From the page as it is: the instructions, then Iniciar conexão with the sandbox on ``path``."""
        self.live.sandbox.set_auto(path, order)
        await self.open_instructions()
        await self.button("Iniciar conexão").click()

    async def expect_connected(self) -> None:
        await self.expect_panel("active", wait_ms=15_000)
        await expect(self.heading("WhatsApp conectado")).to_be_visible()

    # -- the server -------------------------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        answer = await self.context.request.get("/api/v1/whatsapp/connection/status")
        assert answer.ok, await answer.text()
        body: dict[str, Any] = await answer.json()
        return body

    async def events(self, name: str) -> list[dict[str, Any]]:
        self.db.expire_all()
        rows = await self.db.scalars(
            select(AnalyticsEvent).where(AnalyticsEvent.name == name).order_by(AnalyticsEvent.occurred_at)
        )
        found = rows.all()
        assert all(row.organization_id == self.organization_id for row in found)
        return [dict(row.properties or {}) for row in found]

    async def event_names(self) -> list[str]:
        self.db.expire_all()
        return list(
            (await self.db.scalars(select(AnalyticsEvent.name).order_by(AnalyticsEvent.occurred_at))).all()
        )

    # -- evidence ---------------------------------------------------------------------------------
    async def snap(self, name: str, *, docs: bool = False) -> None:
        """A screenshot under var/screenshots; the main states also under docs/images (from SQLite runs).

        Every state worth a screenshot is worth an accessibility check: axe runs on it first."""
        await assert_accessible(self.page, name)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(
            path=str(SCREENSHOTS / f"{self.test_name}-{name}.png"), full_page=True, animations="disabled"
        )
        if docs and self.live.on_sqlite:
            await self.page.mouse.move(VIEWPORT["width"] - 1, VIEWPORT["height"] - 1)  # no hover colours
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            await self.page.screenshot(
                path=str(DOCS_IMAGES / f"whatsapp-{name}.png"), full_page=True, animations="disabled"
            )

    async def message_listeners(self) -> int:
        """How many ``message`` listeners the page's window has (Chromium's own count, through CDP)."""
        cdp = await self.context.new_cdp_session(self.page)
        try:
            window = await cdp.send("Runtime.evaluate", {"expression": "window"})
            found = await cdp.send(
                "DOMDebugger.getEventListeners", {"objectId": window["result"]["objectId"]}
            )
            return sum(1 for listener in found["listeners"] if listener["type"] == "message")
        finally:
            await cdp.detach()

    def console_errors(self) -> list[str]:
        return [line for line in self.console if line.startswith(("error:", "pageerror:"))]
