"""Who the client is behind a load balancer: forwarded headers are believed only from trusted proxies.

``QUALIFICA_TRUSTED_PROXIES`` lists the proxies' IPs and networks. A request whose direct peer is one of them
has its client address taken from ``X-Forwarded-For`` (the right-most hop that is not a trusted proxy, since
each proxy appends what it saw and anything further left is the client's to invent) and its scheme from
``X-Forwarded-Proto``; any other request keeps its peer address and ignores both headers. uvicorn's
``ProxyHeadersMiddleware`` implements exactly this, networks included.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from qualifica.config import Settings


def trust_proxies(app: FastAPI, settings: Settings) -> None:
    """Install the forwarded-headers rule (outermost, so every layer sees the client); none by default."""
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))


def client_ip(request: Request) -> str | None:
    """The client's address: the peer, or the forwarded client when the peer is a trusted proxy."""
    return request.client.host if request.client else None
