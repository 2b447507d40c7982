"""``Sandbox``: one emulated Meta (world + scenario + webhooks) and the Python control API over it.

Thread-safe: the sandbox usually serves from a uvicorn thread while a test drives it from another.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import replace
from typing import Any

from qualifica.meta.credentials import MetaAppCredentials
from qualifica.meta.sandbox.notifications import Notifier
from qualifica.meta.sandbox.scenario import (
    AutoMode,
    ErrorField,
    Failure,
    Latency,
    Order,
    RecordedRequest,
    Scenario,
)
from qualifica.meta.sandbox.signup import (
    Flow,
    SignupResult,
    finish_event,
    mint_code,
    resolve_order,
    user_error_data,
)
from qualifica.meta.sandbox.webhooks import WebhookSender
from qualifica.meta.sandbox.world import (
    COSTA,
    HORIZONTE,
    LIMA,
    PRISMA,
    TOKEN_SHAPES,
    Conversation,
    Phone,
    Token,
    TokenShape,
    Waba,
    World,
    seeded_world,
)

# A person may read the final screen for a while; "Concluir" then gets a fresh code rather than a stale one.
FRESH_CODE_SECONDS = 10.0
V4_PATHS = (
    "finish_unverified_number",
    "finish_no_number",
    "finish_two_wabas_no_event",
    "finish_two_numbers_no_phone_id",
)
# The portfolio each auto path walks into (the others use the first, Horizonte).
PATH_BUSINESS = {
    "finish_no_number": LIMA,
    "finish_two_wabas_no_event": PRISMA,
    "finish_two_numbers_no_phone_id": COSTA,
}


class Sandbox:
    def __init__(
        self,
        credentials: MetaAppCredentials,
        *,
        webhook_url: str | None = None,
        seed: int | None = 7,
        webhook_retry_base_seconds: float = 1.0,
        webhook_max_attempts: int = 8,
        webhook_duplicate_rate: float = 0.02,
    ) -> None:
        self.credentials = credentials
        self.lock = threading.RLock()
        self._seed = seed
        self.webhooks = WebhookSender(
            webhook_url,
            app_secret=credentials.app_secret,
            retry_base_seconds=webhook_retry_base_seconds,
            max_attempts=webhook_max_attempts,
            duplicate_rate=webhook_duplicate_rate,
        )
        self.world: World = seeded_world(seed)
        self.scenario = Scenario()
        self.flows: dict[str, Flow] = {}
        self._clock_offset = 0.0
        self.generation = 0
        self.notify = Notifier(self)

    # -- time and reset -------------------------------------------------------------------------
    def now(self) -> float:
        """Wall-clock seconds as the sandbox sees them (``advance`` moves it forward)."""
        return time.time() + self._clock_offset

    def advance(self, seconds: float) -> None:
        """Jump the sandbox clock, e.g. past a code's 30 s lifetime, without waiting."""
        with self.lock:
            self._clock_offset += seconds

    def reset(self) -> None:
        """Back to the seeded world with no scenario; webhook settings and delivery log are kept."""
        with self.lock:
            self.world = seeded_world(self._seed)
            self.scenario = Scenario()
            self.flows = {}
            self._clock_offset = 0.0
            self.generation += 1

    # -- scenario -------------------------------------------------------------------------------
    def set_latency(self, endpoint: str, latency: float | tuple[float, float] | Latency | None) -> None:
        """Delay answers of ``endpoint``: seconds, a ``(low, high)`` uniform range, a ``Latency``, or off."""
        with self.lock:
            if latency is None:
                self.scenario.latency.pop(endpoint, None)
                return
            if isinstance(latency, tuple):
                latency = Latency("uniform", latency[0], latency[1])
            elif not isinstance(latency, Latency):
                latency = Latency("fixed", float(latency))
            self.scenario.latency[endpoint] = latency

    def fail_next(self, endpoint: str, times: int = 1, **failure: Any) -> None:
        """Answer the next ``times`` calls of ``endpoint`` with a Meta error (see ``Failure`` fields)."""
        with self.lock:
            queue = self.scenario.failures.setdefault(endpoint, deque())
            queue.extend([Failure(**failure)] * times)

    def clear_failures(self, endpoint: str | None = None) -> None:
        with self.lock:
            if endpoint is None:
                self.scenario.failures.clear()
            else:
                self.scenario.failures.pop(endpoint, None)

    def set_auto(self, path: str | None, order: Order = "random", delay_ms: int = 0) -> None:
        """Make every new popup walk ``path`` by itself (None: a person clicks through)."""
        with self.lock:
            self.scenario.auto = AutoMode(path, order, delay_ms) if path else None

    def set_token_lifetime(self, seconds: int | None, *, send_expires_in: bool | None = None) -> None:
        with self.lock:
            self.scenario.token_lifetime = seconds
            self.scenario.send_expires_in = send_expires_in

    def set_error_field(self, name: ErrorField) -> None:
        """Name of the user-reported error's code field: ``error_code`` (2026), ``error_id``, or both."""
        with self.lock:
            self.scenario.error_field = name

    def set_coexistence_includes_phone(self, value: bool) -> None:
        with self.lock:
            self.scenario.coexistence_includes_phone = value

    def set_token_shape(self, shape: TokenShape) -> None:
        """What ``debug_token`` reports for tokens minted from now on.

        ``june_2026`` (default): ``business_management`` (the portfolio) and
        ``whatsapp_business_manage_events`` (the WABAs), no classic WhatsApp scope; ``legacy``: both
        ``whatsapp_business_management`` and ``whatsapp_business_messaging`` with the WABAs
        (docs/meta.md#business-tokens-and-granular-scopes).
        """
        if shape not in TOKEN_SHAPES:
            raise ValueError(f"unknown token shape {shape!r}")
        with self.lock:
            self.scenario.token_shape = shape

    def set_waba_readable(self, waba_id: str, readable: bool) -> None:
        """False: business tokens' reads of the WABA and its numbers answer 403 code 200 (no permission)."""
        with self.lock:
            self.world.wabas[waba_id].readable = readable

    def set_history_sharing(self, value: bool) -> None:
        """False: the business declined sharing its chats; the history sync sends error 2593109."""
        with self.lock:
            self.scenario.history_sharing = value

    def verification_code(self, phone_id: str) -> str | None:
        """The code the last ``request_code`` sent to the number (what its owner reads on the phone)."""
        with self.lock:
            return self.world.phones[phone_id].verification_code

    def set_usage(self, app: dict[str, Any] | None = None, business: dict[str, Any] | None = None) -> None:
        """Fix the usage headers sent with every answer (None for both: computed defaults)."""
        with self.lock:
            self.scenario.usage = (
                None if app is None and business is None else {"app": app, "business": business}
            )

    def requests(self, endpoint: str | None = None) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.scenario.requests if endpoint is None or r.endpoint == endpoint]

    def clear_requests(self) -> None:
        with self.lock:
            self.scenario.requests.clear()

    def set_message_statuses(self, statuses: list[str] | tuple[str, ...], delay: float | None = None) -> None:
        """The statuses webhooks that follow each accepted message (e.g. ``["sent"]``, or none)."""
        unknown = set(statuses) - {"sent", "delivered", "read", "failed"}
        if unknown:
            raise ValueError(f"unknown statuses {sorted(unknown)}")
        with self.lock:
            self.scenario.message_statuses = tuple(statuses)
            if delay is not None:
                self.scenario.status_delay_seconds = float(delay)

    def set_service_window_enforced(self, value: bool) -> None:
        with self.lock:
            self.scenario.service_window_enforced = value

    # -- messaging ------------------------------------------------------------------------------
    def lead_wrote(self, phone_id: str, wa_id: str, at: float | None = None) -> None:
        """Record that a lead wrote to the number (opening its 24 h window) without sending a webhook."""
        with self.lock:
            self.world.conversation(phone_id, wa_id).last_inbound_at = self.now() if at is None else at

    def conversation(self, phone_id: str, wa_id: str) -> Conversation:
        """A copy of what the number and the lead exchanged: the window's start and the messages sent."""
        with self.lock:
            found = self.world.conversation(phone_id, wa_id)
            return replace(found, sent=[dict(item) for item in found.sent])

    def sent_messages(self, phone_id: str) -> dict[str, list[dict[str, Any]]]:
        """Every message the number sent, by lead (``wa_id``), oldest first."""
        with self.lock:
            return {
                wa_id: [dict(item) for item in conversation.sent]
                for (phone, wa_id), conversation in self.world.conversations.items()
                if phone == phone_id and conversation.sent
            }

    # -- world ----------------------------------------------------------------------------------
    def waba(self, waba_id: str) -> Waba:
        with self.lock:
            return replace(self.world.wabas[waba_id])

    def phone(self, phone_id: str) -> Phone:
        with self.lock:
            return replace(self.world.phones[phone_id])

    def token(self, value: str) -> Token:
        with self.lock:
            return replace(self.world.tokens[value])

    def set_phone_pin(self, phone_id: str, pin: str | None) -> None:
        """Give the number an existing two-step verification PIN (register must then send it)."""
        with self.lock:
            self.world.phones[phone_id].pin = pin

    def remove_subscription(self, waba_id: str) -> None:
        """Someone removes our app's webhook subscription in WhatsApp Manager: no webhook says so."""
        with self.lock:
            self.world.wabas[waba_id].subscribed_apps.discard(self.credentials.app_id)

    def uninstall_app(self, waba_id: str) -> int:
        """The customer removes our app from the WABA in Meta's settings: every token of ours listing it
        stops working, our subscription goes, one PARTNER_APP_UNINSTALLED is sent; returns the tokens hit."""
        app_id = self.credentials.app_id
        with self.lock:
            tokens = [
                token
                for token in self.world.tokens.values()
                if token.app_id == app_id and waba_id in token.waba_ids and not token.revoked
            ]
            for token in tokens:
                token.revoked = True
            self.world.wabas[waba_id].subscribed_apps.discard(app_id)
        if tokens:
            self.notify.account_update("PARTNER_APP_UNINSTALLED", waba_id, partner_app_id=app_id)
        return len(tokens)

    def revoke_token(self, value: str) -> None:
        """The customer removes our app: the token answers 190 and PARTNER_APP_UNINSTALLED is sent."""
        with self.lock:
            token = self.world.tokens[value]
            token.revoked = True
        self.notify.account_update("PARTNER_APP_UNINSTALLED", *token.waba_ids, partner_app_id=token.app_id)

    def complete_signup(
        self, path: str = "finish", *, redirect_uri: str | None = None, business_id: str | None = None
    ) -> SignupResult:
        """Run a popup flow without a browser and return what the page would get."""
        with self.lock:
            flow = self.new_flow(origin=None, cb=None, redirect_uri=redirect_uri, state=None, extras={})
            # The path decides, whatever auto mode the scenario holds for popups.
            flow.version = 4 if path in V4_PATHS else 3
            flow.post_event = path != "finish_two_wabas_no_event"
            business = (
                self.world.businesses[business_id]
                if business_id
                else self.world.business_named(PATH_BUSINESS.get(path, HORIZONTE))
            )
            flow.business_id = business.id
            if path.startswith("cancel:"):
                return SignupResult(None, "CANCEL", {"current_step": path.removeprefix("cancel:")})
            if path == "error":
                return SignupResult(None, "CANCEL", user_error_data(flow, self.scenario.error_field))
            waba = (
                self.world.add_waba(business.id, business.name)
                if path == "finish_new_waba"
                else (self.world.wabas_of(business.id) or [self.world.add_waba(business.id, business.name)])[
                    0
                ]
            )
            flow.waba_id = waba.id
            if path in ("finish_only_waba", "finish_no_number", "finish_two_numbers_no_phone_id"):
                flow.phone_choice = "later"
            elif path == "coexistence":
                flow.phone_choice = "coexistence"
                flow.phone_id = self.coexistence_phone(waba.id).id
            elif path in ("finish_existing_number", "finish_two_wabas_no_event"):
                flow.phone_choice = "existing"
                flow.phone_id = self.existing_phones(waba.id)[0].id
            elif path == "finish_unverified_number":
                flow.phone_choice, flow.verify_later = "new", True
                flow.phone_id = self.world.add_phone(waba.id, self.world.ids.phone(), waba.name).id
            else:
                flow.phone_choice = "new"
                flow.phone_id = self.world.add_phone(
                    waba.id, self.world.ids.phone(), waba.name, code_verification_status="VERIFIED"
                ).id
            return self.finish(flow)

    # -- used by the popup pages ----------------------------------------------------------------
    def new_flow(
        self,
        *,
        origin: str | None,
        cb: str | None,
        redirect_uri: str | None,
        state: str | None,
        extras: dict[str, Any],
        auto: AutoMode | None = None,
    ) -> Flow:
        with self.lock:
            auto = auto or self.scenario.auto
            raw = extras.get("sandbox")
            options: dict[str, Any] = raw if isinstance(raw, dict) else {}
            setup = extras.get("setup")
            flow = Flow(
                id=self.world.ids.code()[2:26],
                app_id=self.credentials.app_id,
                origin=origin,
                cb=cb,
                redirect_uri=redirect_uri,
                state=state,
                feature_type=str(extras.get("featureType") or ""),
                auto=auto,
                order=resolve_order(auto.order if auto else "random"),
                # ES v2/v3 retired on 2026-10-15 (docs/meta.md#embedded-signup-v4-endings): today's paths
                # speak v4.
                version=4 if auto is not None and auto.path in V4_PATHS else 3,
                post_event=not (
                    (auto is not None and auto.path == "finish_two_wabas_no_event")
                    or bool(options.get("no_event"))
                ),
                setup=dict(setup) if isinstance(setup, dict) else {},
            )
            self.flows[flow.id] = flow
            return flow

    def existing_phones(self, waba_id: str) -> list[Phone]:
        return [p for p in self.world.phones_of(waba_id) if not p.is_on_biz_app]

    def coexistence_phone(self, waba_id: str) -> Phone:
        """The WhatsApp Business app number, moved under the WABA the customer picked."""
        phone = next(p for p in self.world.phones.values() if p.is_on_biz_app)
        phone.waba_id = waba_id
        return phone

    def finish(self, flow: Flow) -> SignupResult:
        """Mint the flow's code (once; again if the first is near its end) and announce PARTNER_ADDED."""
        with self.lock:
            now = self.now()
            if flow.result is not None and now - flow.result_at < FRESH_CODE_SECONDS:
                return flow.result
            first = flow.result is None
            code = mint_code(self.world, flow, now=now)
            assert flow.waba_id
            event, data = finish_event(
                flow,
                coexistence_includes_phone=self.scenario.coexistence_includes_phone,
                waba_has_numbers=bool(self.world.phones_of(flow.waba_id)),
            )
            result = SignupResult(code, event, data, version=flow.version, posted=flow.post_event)
            flow.result, flow.result_at, flow.finished = result, now, True
            if first:
                if flow.phone_choice == "coexistence" and flow.phone_id:
                    # The 24 h window of the coexistence syncs starts now (docs/meta.md#coexistence-syncs).
                    phone = self.world.phones[flow.phone_id]
                    phone.onboarded_at, phone.smb_syncs = now, {}  # a new onboarding, new syncs
                self.notify.account_update("PARTNER_ADDED", flow.waba_id)
            return flow.result
