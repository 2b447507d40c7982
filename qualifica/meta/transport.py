"""One HTTP attempt to the Graph API: send, time, classify, count, log. Retrying is the caller's job."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from qualifica.logging import get_logger
from qualifica.meta.errors import MetaError, MetaTimeout, MetaTransportError, error_from_envelope
from qualifica.meta.models import GraphUsage
from qualifica.meta.usage import parse_usage
from qualifica.observability.graph_metrics import GraphOutcome, observe_graph_request

log = get_logger("qualifica.meta.graph")


@dataclass(frozen=True)
class GraphRequest:
    """What to send. ``secrets`` are values Meta might echo back; they are blanked out of any error."""

    endpoint: str
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict, repr=False)
    json: dict[str, Any] | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass
class AttemptResult:
    payload: dict[str, Any]
    usage: GraphUsage | None


async def send_once(
    http: httpx.AsyncClient, base_url: str, request: GraphRequest, *, budget: float, attempt: int
) -> AttemptResult:
    """Make one attempt within ``budget`` seconds; raise ``MetaError`` (or a subclass) on any failure."""
    headers = {"Authorization": f"Bearer {request.token}"} if request.token else {}
    started = time.perf_counter()
    status: int | None = None
    usage: GraphUsage | None = None
    try:
        response, failure = await _request(http, base_url, request, headers, budget)
        if failure is not None:
            # Raised outside the ``except`` that caught the library error, so it is neither the cause nor
            # the context: the library's text carries the URL and so the query with its secrets.
            raise failure
        assert response is not None
        status = response.status_code
        usage = parse_usage(response.headers)
        payload = _decode(response, request.endpoint)
    except MetaError as error:
        if usage is not None and error.retry_after is None:
            error.retry_after = usage.regain_seconds
        error.scrubbed(request.secrets)
        _record(request, attempt, started, status, error)
        raise
    _record(request, attempt, started, status, None)
    return AttemptResult(payload=payload, usage=usage)


async def _request(
    http: httpx.AsyncClient, base_url: str, request: GraphRequest, headers: dict[str, str], budget: float
) -> tuple[httpx.Response | None, MetaError | None]:
    try:
        async with asyncio.timeout(budget):
            response = await http.request(
                request.method,
                f"{base_url}/{request.path}",
                params=request.params or None,
                json=request.json,
                headers=headers,
                timeout=budget,
            )
    except (TimeoutError, httpx.TimeoutException):
        return None, MetaTimeout("Meta did not answer in time", endpoint=request.endpoint)
    except httpx.HTTPError as exc:
        return None, MetaTransportError(
            f"connection to Meta failed ({type(exc).__name__})", endpoint=request.endpoint
        )
    return response, None


def _decode(response: httpx.Response, endpoint: str) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.is_success and isinstance(payload, dict):
        return payload
    if isinstance(payload, dict) and "error" in payload:
        raise error_from_envelope(payload, http_status=response.status_code, endpoint=endpoint)
    message = f"unexpected answer from Meta (HTTP {response.status_code}, not a Graph JSON object)"
    if response.status_code >= 500:
        raise MetaTransportError(message, http_status=response.status_code, endpoint=endpoint)
    raise MetaError(message, http_status=response.status_code, endpoint=endpoint)


def _record(
    request: GraphRequest, attempt: int, started: float, status: int | None, error: MetaError | None
) -> None:
    seconds = time.perf_counter() - started
    outcome: GraphOutcome = "ok"
    if error is not None:
        outcome = "transient_error" if error.transient else "permanent_error"
    observe_graph_request(request.endpoint, outcome, seconds)
    log.info(
        "meta.graph.request",
        endpoint=request.endpoint,
        method=request.method,
        attempt=attempt,
        status=status,
        outcome=outcome,
        duration_ms=round(seconds * 1000, 1),
        meta_code=error.code if error else None,
        meta_subcode=error.subcode if error else None,
        fbtrace_id=error.fbtrace_id if error else None,
        error_kind=type(error).__name__ if error else None,
    )
