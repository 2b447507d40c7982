"""``qualifica sandbox``: the Meta sandbox alone, configured from the environment like the app."""

from __future__ import annotations

import uvicorn

from qualifica.config import Settings
from qualifica.logging import configure_logging
from qualifica.meta.sandbox.app import create_sandbox_app


def run_sandbox(host: str = "127.0.0.1", port: int = 8900, webhook_url: str | None = None) -> None:
    """Serve the sandbox on ``host:port`` until interrupted (webhooks go to ``webhook_url`` if given)."""
    settings = Settings()
    configure_logging()
    app = create_sandbox_app(settings, webhook_url=webhook_url)
    uvicorn.run(app, host=host, port=port, log_config=None)
