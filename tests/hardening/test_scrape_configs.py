"""The scrape configurations under ``ops/`` send ``/metrics`` its bearer token."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs and types-PyYAML is not locked

from tests.support.tools import promtool

OPS = Path(__file__).resolve().parents[2] / "ops"


def test_the_prometheus_scrape_config_is_valid_and_sends_the_token(tmp_path: Path) -> None:
    config = yaml.safe_load((OPS / "prometheus/prometheus.yml").read_text())
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "qualifica")
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    # promtool wants the token file (and the rules) where the config says.
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(OPS / "prometheus" / name, tmp_path / name)
    (tmp_path / job["authorization"]["credentials_file"]).write_text("token-for-the-check\n")
    done = subprocess.run(
        [promtool(), "check", "config", "prometheus.yml"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_datadog_check_sends_the_token_as_a_bearer_header() -> None:
    (instance,) = yaml.safe_load((OPS / "datadog/openmetrics.yaml").read_text())["instances"]
    assert instance["openmetrics_endpoint"].endswith("/metrics")
    assert instance["auth_token"]["reader"]["type"] == "file"
    assert instance["auth_token"]["writer"] == {
        "type": "header",
        "name": "Authorization",
        "value": "Bearer <TOKEN>",
    }
