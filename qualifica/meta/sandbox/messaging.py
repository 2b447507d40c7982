"""``POST /{phone_number_id}/messages`` as the Cloud API plays it (reference 2026 §5.1–5.5).

Meta's answer (``messaging_product``, ``contacts[{input, wa_id}]``, ``messages[{id, message_status}]``);
its refusals (131047 outside the service window, 132000/132001 template errors, 100 for a malformed body);
and the ``statuses`` webhooks that follow an accepted message (sent → delivered → read; a ``failed`` with
131026 for a number that cannot receive). Rate limits (130429), 5xx and 131026 on the answer itself are
injected with ``fail_next("messages", code=…)``. Called with ``sandbox.lock`` held.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import TYPE_CHECKING, Any

from qualifica.meta.sandbox import faults
from qualifica.meta.sandbox.faults import GraphFault
from qualifica.meta.sandbox.scenario import Failure
from qualifica.meta.sandbox.world import (
    MESSAGE_TEMPLATES,
    SERVICE_WINDOW_SECONDS,
    UNDELIVERABLE_NUMBERS,
    Phone,
)

if TYPE_CHECKING:
    from qualifica.meta.sandbox.sandbox import Sandbox

RECIPIENT = re.compile(r"^\+?[1-9][0-9]{7,14}$")
MAX_TEXT = 4096
WINDOW_DETAILS = (
    "Message failed to send because more than 24 hours have passed since the customer last replied to this "
    "number."
)
UNDELIVERABLE = {
    "code": 131026,
    "title": "Message undeliverable",
    "message": "Message undeliverable",
    "error_data": {"details": "Message Undeliverable."},
}


def _object(params: dict[str, str], name: str) -> dict[str, Any]:
    """A nested JSON object of the body (the Graph handler flattened it into a string)."""
    raw = params.get(name)
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {}


def new_wamid() -> str:
    return "wamid.HBgN" + secrets.token_urlsafe(30).replace("-", "A").replace("_", "B")


def outside_window() -> GraphFault:
    return GraphFault(Failure(code=131047, details=WINDOW_DETAILS))


def template_missing(name: str, language: str) -> GraphFault:
    details = f"template name ({name}) does not exist in {language}"
    return GraphFault(Failure(code=132001, details=details, http_status=404))


def template_params(expected: int) -> GraphFault:
    details = f"body: number of localizable_params does not match the expected number of params ({expected})"
    return GraphFault(Failure(code=132000, details=details))


def send(sandbox: Sandbox, phone: Phone, params: dict[str, str]) -> dict[str, Any]:
    if params.get("messaging_product") != "whatsapp":
        raise faults.invalid_parameter("(#100) The parameter messaging_product is required.")
    if params.get("status") == "read":  # mark as read (and typing indicator): reference 2026 §5.8
        if not params.get("message_id"):
            raise faults.invalid_parameter("(#100) The parameter message_id is required.")
        return {"success": True}
    to = params.get("to", "")
    if not RECIPIENT.match(to):
        raise faults.invalid_parameter("(#100) Invalid parameter: to must be a phone number")
    wa_id = to.lstrip("+")
    kind = params.get("type", "text")
    conversation = sandbox.world.conversation(phone.id, wa_id)
    item: dict[str, Any] = {"type": kind}
    if kind == "text":
        body = _object(params, "text").get("body")
        if not isinstance(body, str) or not body.strip() or len(body) > MAX_TEXT:
            raise faults.invalid_parameter(
                "(#100) Invalid parameter: text.body must have 1 to 4096 characters"
            )
        last = conversation.last_inbound_at
        if sandbox.scenario.service_window_enforced and (
            last is None or sandbox.now() - last >= SERVICE_WINDOW_SECONDS
        ):
            raise outside_window()
        item["text"] = body
    elif kind == "template":
        template = _object(params, "template")
        name = str(template.get("name") or "")
        language = str((template.get("language") or {}).get("code") or "")
        if (name, language) not in MESSAGE_TEMPLATES:
            raise template_missing(name, language)
        expected = MESSAGE_TEMPLATES[(name, language)]
        given = sum(
            len(component.get("parameters") or [])
            for component in template.get("components") or []
            if isinstance(component, dict) and component.get("type") == "body"
        )
        if given != expected:
            raise template_params(expected)
        item["template"] = {"name": name, "language": language}
    context = _object(params, "context").get("message_id")
    if context:
        item["context"] = str(context)
    wamid = new_wamid()
    conversation.sent.append({"id": wamid, **item, "at": sandbox.now(), "status": "accepted"})
    if wa_id in UNDELIVERABLE_NUMBERS:
        sandbox.notify.statuses(phone.id, wamid, wa_id, ("failed",), error=UNDELIVERABLE)
    else:
        sandbox.notify.statuses(phone.id, wamid, wa_id, sandbox.scenario.message_statuses)
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": wa_id}],
        "messages": [{"id": wamid, "message_status": "accepted"}],
    }
