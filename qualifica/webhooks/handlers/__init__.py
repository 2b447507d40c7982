"""What each webhook field does: one module per concern, each declaring the fields it handles.

Every module of this package holds ``HANDLERS`` (field → handler) beside the code it names, and every module
here is read: a new handler needs no edit elsewhere in the package. The fields must be those of
``qualifica.meta.webhook_subscription.SUBSCRIBED_FIELDS`` (a test holds the two equal). A field nobody
declares is kept for the assistant, as ``messages`` are.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator, Mapping

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


def _declared() -> Iterator[Mapping[str, Handler]]:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda found: found.name):
        declared: Mapping[str, Handler] = importlib.import_module(f"{__name__}.{module.name}").HANDLERS
        yield declared


HANDLERS = merge(_declared())


def handler_for(field: str) -> Handler:
    return HANDLERS.get(field, deliver)
