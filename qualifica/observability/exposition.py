"""``GET /metrics``: the service's Prometheus metrics as OpenMetrics text.

Multi-process mode: when several processes serve or work (``uvicorn --workers N``, gunicorn, a separate
``qualifica worker`` on the same host), start every one of them with ``PROMETHEUS_MULTIPROC_DIR`` pointing
at one shared, emptied-at-deploy directory. Each process then writes its counters and histograms to files
there, and this endpoint sums them with ``MultiProcessCollector`` — counters and histograms are summed
across processes, so no ``pid`` label appears. Gauges computed from the database come from the readers the
app lists in ``app.state.gauge_readers``; this module knows no domain.

With ``QUALIFICA_METRICS_TOKEN`` set (production requires it) a scrape must send
``Authorization: Bearer <token>``; anything else gets 401 ``not_authenticated``.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.openmetrics import exposition as openmetrics
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from qualifica.config import Settings
from qualifica.errors import AppError

router = APIRouter(include_in_schema=False)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True, eq=False)  # hashed by identity, as the registry needs
class LabelledGauge:
    """A gauge with one label, read from the database just before a scrape.

    ``collect()`` is synchronous and runs while the exposition is rendered: it must never touch the
    database itself, so the endpoint reads the values first (without blocking the event loop) and hands
    them over here.
    """

    name: str
    documentation: str
    label: str
    values: Mapping[str, int] = field(default_factory=dict)

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        for label_value, value in sorted(self.values.items()):
            family.add_metric([label_value], value)
        yield family


GaugeReader = Callable[[AsyncSession], Awaitable[LabelledGauge]]


class _ThisProcess:
    """The default registry of this process (single-process mode)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def build_registry(gauges: Iterable[LabelledGauge] = ()) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    for gauge in gauges:
        registry.register(gauge)
    return registry


def render(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """OpenMetrics unless the client asks only for the classic text format."""
    if "text/plain" in accept and "application/openmetrics-text" not in accept:
        encoder, content_type = choose_encoder(accept)
        return encoder(registry), content_type
    return openmetrics.generate_latest(registry), openmetrics.CONTENT_TYPE_LATEST  # type: ignore[no-untyped-call]


class MetricsTokenRequired(AppError):
    """Not ``NotAuthenticated``: a scraper is not a person, so no redirect to the login page."""

    code, status = "not_authenticated", 401
    message = "Informe o token de métricas: Authorization: Bearer <QUALIFICA_METRICS_TOKEN>."


def require_metrics_token(request: Request) -> None:
    settings: Settings = request.app.state.settings
    if settings.metrics_token is None:
        return
    expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
    sent = request.headers.get("authorization", "").encode()
    if not hmac.compare_digest(sent, expected):  # constant time: the token is not guessed byte by byte
        raise MetricsTokenRequired(headers={"WWW-Authenticate": "Bearer"})


@router.get("/metrics", dependencies=[Depends(require_metrics_token)])
async def metrics(request: Request) -> Response:
    readers: list[GaugeReader] = request.app.state.gauge_readers
    async with request.app.state.sessionmaker() as session:
        gauges = [await read(session) for read in readers]
    registry = build_registry(gauges)
    # Reading many per-process files in multi-process mode is blocking I/O: keep it off the event loop.
    body, content_type = await run_in_threadpool(render, registry, request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
