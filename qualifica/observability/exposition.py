"""``GET /metrics``: the service's Prometheus metrics as OpenMetrics text.

Multi-process mode: when several processes serve or work (``uvicorn --workers N``, gunicorn, a separate
``qualifica worker`` on the same host), start every one of them with ``PROMETHEUS_MULTIPROC_DIR`` pointing
at one shared, emptied-at-deploy directory. Each process then writes its counters and histograms to files
there, and this endpoint sums them with ``MultiProcessCollector`` — counters and histograms are summed
across processes, so no ``pid`` label appears (the only gauge is computed from the database, below).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.openmetrics import exposition as openmetrics
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from qualifica.whatsapp.models import ConnectionStatus, WhatsAppConnection

router = APIRouter(include_in_schema=False)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


async def connections_by_status(session: AsyncSession) -> dict[str, int]:
    """Every status present, zero included, so dashboards always have a series per status."""
    rows = await session.execute(
        select(WhatsAppConnection.status, func.count()).group_by(WhatsAppConnection.status)
    )
    counts = {status.value: 0 for status in ConnectionStatus}
    counts.update({ConnectionStatus(status).value: int(count) for status, count in rows})
    return counts


class ConnectionsCollector:
    """``qualifica_whatsapp_connections{status}`` from a snapshot read asynchronously just before a scrape.

    ``collect()`` is synchronous and runs while the exposition is rendered: it must never touch the
    database itself, so the endpoint reads the counts first (without blocking the event loop) and hands
    them over here.
    """

    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = dict(counts)

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "qualifica_whatsapp_connections", "WhatsApp connections by status", labels=["status"]
        )
        for status, count in sorted(self.counts.items()):
            family.add_metric([status], count)
        yield family


class _ThisProcess:
    """The default registry of this process (single-process mode)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def build_registry(connections: Mapping[str, int]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(ConnectionsCollector(connections))
    return registry


def render(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """OpenMetrics unless the client asks only for the classic text format."""
    if "text/plain" in accept and "application/openmetrics-text" not in accept:
        encoder, content_type = choose_encoder(accept)
        return encoder(registry), content_type
    return openmetrics.generate_latest(registry), openmetrics.CONTENT_TYPE_LATEST  # type: ignore[no-untyped-call]


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    async with request.app.state.sessionmaker() as session:
        counts = await connections_by_status(session)
    registry = build_registry(counts)
    # Reading many per-process files in multi-process mode is blocking I/O: keep it off the event loop.
    body, content_type = await run_in_threadpool(render, registry, request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
