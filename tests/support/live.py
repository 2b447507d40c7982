"""Serve an ASGI app over a real socket from a background thread (uvicorn), for integration and e2e tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.types import ASGIApp

from qualifica.app import create_app
from qualifica.config import Settings


@contextmanager
def serve_in_thread(app: ASGIApp, *, health_path: str | None = "/healthz", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (``port``, or a free one) in a thread; yield its base URL.

    A given ``port`` (from ``free_port()``) lets the app's settings know its own URL before it starts.

    Waits until the server listens (and ``health_path`` answers 200, when given); stops it on exit.
    """
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("live server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    if health_path is not None:
        while httpx.get(base_url + health_path).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("live server is not healthy")
            time.sleep(0.01)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def live_server(settings: Settings, *, worker: bool = False, health_path: str = "/healthz") -> Iterator[str]:
    """The service on a real socket (beside the test's own app, same database), with or without its worker.

    Its ``BASE_URL`` is its real address: a browser's login posts carry that origin, and login refuses others.
    """
    port = free_port()
    served = Settings(_env_file=None, **(settings.model_dump() | {"base_url": f"http://127.0.0.1:{port}"}))
    app = create_app(served, configure_logs=False, embedded_worker=worker)
    with serve_in_thread(app, health_path=health_path, port=port) as url:
        yield url


def free_port() -> int:
    """A port free right now, for a server started in another process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
