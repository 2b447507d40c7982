"""Prometheus metrics (default registry). Names and labels are a contract: see ARCHITECTURE.md §7."""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter, Histogram

GraphOutcome = Literal["ok", "transient_error", "permanent_error"]

META_GRAPH_REQUESTS = Counter(
    "qualifica_meta_graph_requests_total",
    "HTTP attempts made to Meta's Graph API, by endpoint and outcome.",
    ["endpoint", "outcome"],
)
META_GRAPH_REQUEST_SECONDS = Histogram(
    "qualifica_meta_graph_request_seconds",
    "Duration of one HTTP attempt to Meta's Graph API.",
    ["endpoint"],
    # Meta has no published latency; the code exchange must fit in a 30 s window, the callback in 2.5 s.
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)


def observe_graph_request(endpoint: str, outcome: GraphOutcome, seconds: float) -> None:
    META_GRAPH_REQUESTS.labels(endpoint=endpoint, outcome=outcome).inc()
    META_GRAPH_REQUEST_SECONDS.labels(endpoint=endpoint).observe(seconds)
