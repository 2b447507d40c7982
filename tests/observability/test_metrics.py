from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as _parse

from qualifica.meta.sandbox import Sandbox
from tests.support.signup import Browser

OPENMETRICS = "application/openmetrics-text"


def families(text: str) -> list[Metric]:
    """Parsed with the OpenMetrics parser, so the text is valid OpenMetrics."""
    return list(_parse(text))  # type: ignore[no-untyped-call]


def samples(text: str) -> dict[str, list[dict[str, str]]]:
    """Sample name → the label sets it has, parsed with the OpenMetrics parser (so the text is valid)."""
    found: dict[str, list[dict[str, str]]] = {}
    for family in families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(dict(sample.labels))
    return found


async def scrape(client: httpx.AsyncClient) -> tuple[httpx.Response, dict[str, list[dict[str, str]]]]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response, samples(response.text)


class TestMetricsEndpoint:
    async def test_after_signups_every_series_has_exactly_the_contract_labels(
        self, client: httpx.AsyncClient, admin: Browser, sandbox: Sandbox
    ) -> None:
        assert (await admin.connect(sandbox)).status_code == 200
        assert (await admin.post("/connection/disconnect")).status_code == 200
        assert (await admin.cancel("BUSINESS_ACCOUNT_SELECTION")).status_code == 204
        sandbox.fail_next("oauth_access_token", code=100, message="(#100) Invalid parameter")
        assert (await admin.connect(sandbox)).status_code == 502

        response, found = await scrape(client)
        assert response.headers["content-type"].startswith(OPENMETRICS)
        expected = {
            "qualifica_embedded_signup_started_total": set(),
            "qualifica_embedded_signup_completed_total": {"has_existing_number"},
            "qualifica_embedded_signup_failed_total": {"error_code", "step"},
            "qualifica_embedded_signup_cancelled_total": {"step"},
            "qualifica_embedded_signup_duration_seconds_bucket": {"le"},
            "qualifica_embedded_signup_callback_seconds_bucket": {"outcome", "le"},
            "qualifica_embedded_signup_unprocessed_callbacks_total": set(),
            "qualifica_whatsapp_connections": {"status"},
            "qualifica_meta_graph_requests_total": {"endpoint", "outcome"},
            "qualifica_meta_graph_request_seconds_bucket": {"endpoint", "le"},
        }
        for name, labels in expected.items():
            assert name in found, name
            assert all(set(label_set) == labels for label_set in found[name]), (name, found[name])
        assert {"error_code": "100", "step": "token_exchange"} in found[
            "qualifica_embedded_signup_failed_total"
        ]
        assert {"step": "business"} in found["qualifica_embedded_signup_cancelled_total"]
        outcomes = {
            labels["outcome"] for labels in found["qualifica_embedded_signup_callback_seconds_bucket"]
        }
        assert (
            {"completed", "failed"}
            <= outcomes
            <= {
                "completed",
                "processing",
                "pin_required",
                # the waits for the admin of ARCHITECTURE §14 (choice, the number's code, a number)
                "choice_required",
                "verification_required",
                "number_required",
                "failed",
                "rejected",
            }
        )
        graph = {labels["outcome"] for labels in found["qualifica_meta_graph_requests_total"]}
        assert "ok" in graph and "permanent_error" in graph

    async def test_connections_gauge_reads_the_database_at_each_scrape(
        self, client: httpx.AsyncClient, admin: Browser, sandbox: Sandbox
    ) -> None:
        def gauge(text: str) -> dict[str, float]:
            family = next(f for f in families(text) if f.name == "qualifica_whatsapp_connections")
            return {sample.labels["status"]: sample.value for sample in family.samples}

        before = gauge((await client.get("/metrics")).text)
        assert before == {"active": 0, "disconnected": 0, "error": 0}
        assert (await admin.connect(sandbox)).status_code == 200
        assert gauge((await client.get("/metrics")).text)["active"] == 1
        assert (await admin.post("/connection/disconnect")).status_code == 200
        assert gauge((await client.get("/metrics")).text) == {"active": 0, "disconnected": 1, "error": 0}

    async def test_the_classic_text_format_is_served_to_who_asks_for_it(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/metrics", headers={"Accept": "text/plain; version=0.0.4"})
        assert response.headers["content-type"].startswith("text/plain")
        assert "# TYPE qualifica_embedded_signup_started_total counter" in response.text


MULTIPROCESS = textwrap.dedent(
    """
    import sys
    from qualifica.observability import signup_metrics
    from qualifica.observability.graph_metrics import observe_graph_request
    signup_metrics.started()
    signup_metrics.failed(error_code="133005", step="registration")
    signup_metrics.callback(outcome="failed", seconds=0.3)
    observe_graph_request("register", "permanent_error", 0.2)
    if sys.argv[1] == "render":
        from qualifica.observability.exposition import build_registry, render
        from qualifica.whatsapp.status import connections_gauge
        gauge = connections_gauge({"active": 2, "disconnected": 0, "error": 1})
        body, _ = render(build_registry([gauge]), "")
        sys.stdout.write(body.decode())
    """
)


class TestMultiProcess:
    def test_processes_sharing_a_directory_are_summed_without_a_pid_label(self, tmp_path: Path) -> None:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
        for role in ("worker", "render"):
            done = subprocess.run(
                [sys.executable, "-c", MULTIPROCESS, role],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
        values = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in families(done.stdout)
            for sample in family.samples
        }
        assert values[("qualifica_embedded_signup_started_total", ())] == 2
        failed = (("error_code", "133005"), ("step", "registration"))
        assert values[("qualifica_embedded_signup_failed_total", failed)] == 2
        assert (
            values[
                (
                    "qualifica_meta_graph_requests_total",
                    (("endpoint", "register"), ("outcome", "permanent_error")),
                )
            ]
            == 2
        )
        assert values[("qualifica_whatsapp_connections", (("status", "active"),))] == 2
        assert not any("pid" in dict(labels) for _, labels in values)
