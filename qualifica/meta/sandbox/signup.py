"""One run of the Embedded Signup popup: its choices, the code it mints and what it posts at the end."""

from __future__ import annotations

import json
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from qualifica.meta.sandbox.scenario import AutoMode, ErrorField, Order
from qualifica.meta.sandbox.world import Code, World

# Page → Meta's ``current_step`` for a CANCEL there (docs/meta.md#popup-session-events). Login has none:
# closing it yields no event at all, which the app reads as a cancel at "login".
CURRENT_STEP = {
    "business": "BUSINESS_ACCOUNT_SELECTION",
    "waba": "WABA_PHONE_PROFILE_PICKER",
    "waba_create": "WHATSAPP_BUSINESS_PROFILE_SETUP",
    "phone": "PHONE_NUMBER_SETUP",
    "verify": "PHONE_NUMBER_VERIFICATION",
    "permissions": "PERMISSIONS",
}
STEP_OF = {value: key for key, value in CURRENT_STEP.items()}
USER_ERROR_CODE = "524126"
USER_ERROR_MESSAGE = (
    "Your verified name violates WhatsApp guidelines. Please edit your verified name and try again."
)
PhoneChoice = Literal["existing", "new", "coexistence", "later"]


@dataclass(frozen=True)
class SignupResult:
    """What a finished popup hands the page: the code and the ES event (``code`` None when cancelled).

    ``posted`` False: the popup posted no session event (missed session logging); ``event``/``data``
    then say what Meta would have sent, and the page got only the code.
    """

    code: str | None
    event: str
    data: dict[str, Any]
    version: int = 3
    posted: bool = True

    @property
    def waba_id(self) -> str | None:
        value = self.data.get("waba_id")
        return str(value) if value is not None else None

    @property
    def phone_number_id(self) -> str | None:
        value = self.data.get("phone_number_id")
        return str(value) if value is not None else None


@dataclass
class Flow:
    id: str
    app_id: str
    origin: str | None  # the opener's origin (popup); None in the full-page redirect flow
    cb: str | None
    redirect_uri: str | None
    state: str | None
    feature_type: str
    auto: AutoMode | None
    order: Literal["message_first", "callback_first"]
    session_id: str = field(default_factory=lambda: secrets.token_hex(8)[:15])
    business_id: str | None = None
    waba_id: str | None = None
    phone_choice: PhoneChoice | None = None
    phone_id: str | None = None
    finished: bool = False
    result: SignupResult | None = None
    result_at: float = 0.0
    verify_later: bool = False  # ES v4: the person left the number unverified
    post_event: bool = True  # False: no WA_EMBEDDED_SIGNUP message (session logging missed)
    version: int = 3  # the session event's ``version``; 4 for the v4 endings
    # ``extras.setup`` as FB.login sent it: the prefill (``business`` …) the business screen shows
    setup: dict[str, Any] = field(default_factory=dict)

    @property
    def is_popup(self) -> bool:
        return self.redirect_uri is None


def resolve_order(order: Order) -> Literal["message_first", "callback_first"]:
    if order == "random":
        return random.choice(("message_first", "callback_first"))  # noqa: S311 - not security
    return order


def mint_code(world: World, flow: Flow, *, now: float) -> str:
    assert flow.business_id and flow.waba_id, "a code needs a business and a WABA"
    # The token covers every WABA the business has shared with the app, not just this one
    # (docs/meta.md#business-tokens-and-granular-scopes).
    shared = [w.id for w in world.wabas_of(flow.business_id) if w.shared_with_app and w.id != flow.waba_id]
    code = Code(
        value=world.ids.code(),
        app_id=flow.app_id,
        business_id=flow.business_id,
        waba_ids=[flow.waba_id, *shared],
        created_at=now,
        redirect_uri=flow.redirect_uri,
    )
    world.codes[code.value] = code
    return code.value


def finish_event(
    flow: Flow, *, coexistence_includes_phone: bool, waba_has_numbers: bool
) -> tuple[str, dict[str, Any]]:
    """The session event's name and data; sets ``flow.version`` to 4 for the ES v4 endings.

    v4 lets a person finish with an unverified number or with none (docs/meta.md#embedded-signup-v4-endings):
    the first
    is a FINISH with the number's id (its ``code_verification_status`` says the rest), the second a
    FINISH without ``phone_number_id``.
    """
    data: dict[str, Any] = {"waba_id": flow.waba_id}
    if flow.phone_choice == "coexistence":
        if coexistence_includes_phone:
            data["phone_number_id"] = flow.phone_id
        return "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING", data
    data["business_id"] = flow.business_id
    if flow.phone_choice == "later" or flow.phone_id is None:
        if not waba_has_numbers and flow.feature_type != "only_waba_sharing":
            flow.version = 4
            return "FINISH", data
        return "FINISH_ONLY_WABA", data
    if flow.verify_later:
        flow.version = 4
    return "FINISH", {"phone_number_id": flow.phone_id, **data}


def user_error_data(flow: Flow, error_field: ErrorField) -> dict[str, Any]:
    data: dict[str, Any] = {"error_message": USER_ERROR_MESSAGE}
    if error_field in ("error_code", "both"):
        data["error_code"] = USER_ERROR_CODE
    if error_field in ("error_id", "both"):
        data["error_id"] = USER_ERROR_CODE
    data["session_id"] = flow.session_id
    data["timestamp"] = str(int(time.time()))
    return data


def es_message(event: str, data: dict[str, Any], version: int = 3) -> str:
    return json.dumps({"type": "WA_EMBEDDED_SIGNUP", "event": event, "data": data, "version": version})


def opener_messages(flow: Flow, event: tuple[str, dict[str, Any]] | None, code: str | None) -> list[str]:
    """The strings the popup posts to its opener, in order: SDK noise, the ES event, the SDK result.

    The SDK result is the non-JSON ``cb=…`` string the sandbox SDK turns into the FB.login callback; its
    place relative to the ES event is the flow's order, as Meta's varies.
    """
    noise = f"cb={secrets.token_hex(6)}&relation=opener&frame=f{secrets.token_hex(5)}"
    messages = [noise]
    result = None
    if flow.cb:
        result = f"cb={flow.cb}&relation=opener&fbsdk=result&" + (
            f"status=connected&code={code}" if code else "status=unknown"
        )
    missed = event is not None and event[0] != "CANCEL" and not flow.post_event
    es = es_message(*event, version=flow.version) if event and not missed else None
    ordered = [es, result] if flow.order == "message_first" else [result, es]
    messages += [m for m in ordered if m is not None]
    return messages
