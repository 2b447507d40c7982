"""Auto mode: for each popup page, what a scripted user picks and whether it goes on, cancels or closes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from qualifica.meta.sandbox.scenario import AutoMode
from qualifica.meta.sandbox.signup import STEP_OF

Action = Literal["next", "cancel", "close"]
# Display names with "WhatsApp" break Meta's naming rules; the error path uses one to reach the error screen.
ERROR_DISPLAY_NAME = "Horizonte WhatsApp"


@dataclass(frozen=True)
class AutoStep:
    action: Action
    choices: dict[str, str] = field(default_factory=dict)


def _waba_choice(path: str) -> str:
    if path in ("finish_new_waba", "finish_no_number", "cancel:WHATSAPP_BUSINESS_PROFILE_SETUP"):
        return "new"
    return "existing"


def _phone_choice(path: str) -> str:
    return {
        "finish_existing_number": "existing",
        "finish_two_wabas_no_event": "existing",
        "finish_only_waba": "later",
        "finish_no_number": "later",
        "finish_two_numbers_no_phone_id": "later",
        "coexistence": "coexistence",
    }.get(path, "new")


def auto_step(auto: AutoMode | None, page: str) -> AutoStep | None:
    """The scripted move on ``page``; None when a person drives the popup."""
    if auto is None:
        return None
    path = auto.path
    if path == "close_no_code":
        return AutoStep("close")
    if page == "error":
        return AutoStep("cancel")  # the error screen's only way out is "Fechar", which reports it
    if path.startswith("cancel:") and STEP_OF.get(path.removeprefix("cancel:")) == page:
        return AutoStep("cancel")
    choices = {"waba": _waba_choice(path), "phone": _phone_choice(path)}
    if path == "finish_unverified_number":
        choices["verify"] = "later"  # ES v4: finish without verifying the new number
    if path == "error":
        choices["display_name"] = ERROR_DISPLAY_NAME
    return AutoStep("next", choices)
