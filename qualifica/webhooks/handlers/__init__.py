"""What each webhook field does: one module per concern, each declaring the fields it handles.

Every module of this package holds ``HANDLERS`` (field → handler) beside the code it names; the registry below
merges them (a new module is added to its list, explicitly: no module scanning). The fields must be those of
``qualifica.meta.webhook_subscription.SUBSCRIBED_FIELDS`` (a test holds the two equal). A field nobody
declares is kept for the assistant, as ``messages`` are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from qualifica.webhooks.handlers import account, coexistence, messages, phone_health
from qualifica.webhooks.handlers.messages import deliver
from qualifica.webhooks.routing import Handler


def merge(declared: Iterable[Mapping[str, Handler]]) -> dict[str, Handler]:
    """One handler per field: two modules claiming the same field fail at import, not in production."""
    handlers: dict[str, Handler] = {}
    for mapping in declared:
        for field, handler in mapping.items():
            if field in handlers:
                raise ValueError(f"two handlers for the webhook field {field!r}")
            handlers[field] = handler
    return handlers


HANDLERS = merge((account.HANDLERS, coexistence.HANDLERS, messages.HANDLERS, phone_health.HANDLERS))


def handler_for(field: str) -> Handler:
    return HANDLERS.get(field, deliver)
