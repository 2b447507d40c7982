"""Scrub httpx's and httpcore's own log records: they print full URLs, and ours carry secrets in queries.

``configure_logging`` raises those loggers to WARNING; this filter also covers processes (tests, scripts)
that never called it, so a debug-level capture still shows no token, code or app secret.
"""

from __future__ import annotations

import logging

from qualifica.logging import scrub_text

_LOGGERS = ("httpx", "httpcore")


class _ScrubSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return False
        record.msg = scrub_text(message)
        record.args = None
        return True


def install_http_log_scrubber() -> None:
    """Idempotent: adds the filter once to each HTTP library logger."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _ScrubSecrets) for existing in logger.filters):
            logger.addFilter(_ScrubSecrets())
