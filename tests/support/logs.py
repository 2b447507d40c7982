"""Every log record of the test process, rendered exactly as production renders it (after redaction)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from qualifica.logging import build_formatter, configure_logging


@contextmanager
def production_logs(handler: logging.Handler) -> Iterator[logging.Handler]:
    """Debug logging on, with ``handler`` on the root logger (production's formatter) until the exit,
    when the handler is closed (a stream handler leaves its stream open)."""
    configure_logging("DEBUG")
    handler.setFormatter(build_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        handler.close()
