"""The artifacts under ``ops/``: alert rules proven by promtool, dashboards and monitors over real metrics."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs and types-PyYAML is not locked
from prometheus_client import REGISTRY

import qualifica.app  # noqa: F401  (imports every module that defines a metric)
from qualifica.whatsapp.status import connections_gauge
from tests.support.tools import promtool

OPS = Path(__file__).resolve().parents[2] / "ops"
CONTRACT_LABELS = {
    "error_code",
    "step",
    "has_existing_number",
    "outcome",
    "status",
    "endpoint",
    "field",
    "le",
}
PROMQL_NAME = re.compile(r"\bqualifica_[a-z0-9_]+")
DATADOG_NAME = re.compile(r"\bqualifica\.[a-z0-9_.]+")


def exported() -> dict[str, str]:
    """Every sample name the service exports → its family type."""
    names: dict[str, str] = {}
    families = list(REGISTRY.collect()) + list(connections_gauge({"active": 0}).collect())
    for family in families:
        if not family.name.startswith("qualifica_"):
            continue
        if family.type == "counter":
            names[family.name + "_total"] = "counter"
        elif family.type == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                names[family.name + suffix] = "histogram"
        else:
            names[family.name] = family.type
    return names


class TestAlertRules:
    def test_rules_are_valid(self) -> None:
        done = subprocess.run(
            [promtool(), "check", "rules", str(OPS / "prometheus/alerts.yml")], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def test_each_alert_fires_and_stays_quiet_when_it_should(self) -> None:
        done = subprocess.run(
            [promtool(), "test", "rules", "alerts.test.yml"],
            capture_output=True,
            text=True,
            cwd=OPS / "prometheus",
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def test_the_three_prd_alerts_select_by_name_and_contract_labels_only(self) -> None:
        rules = yaml.safe_load((OPS / "prometheus/alerts.yml").read_text())["groups"][0]["rules"]
        assert [rule["alert"] for rule in rules] == [
            "EmbeddedSignupErrorRateHigh", "EmbeddedSignupNoSuccess24h", "EmbeddedSignupCallbacksUnprocessed",
        ]  # fmt: skip
        tests = (OPS / "prometheus/alerts.test.yml").read_text()
        for rule in rules:
            assert set(PROMQL_NAME.findall(rule["expr"])) <= set(exported())
            assert not re.search(r"\b(job|instance)\s*=", rule["expr"])
            assert tests.count(f"alertname: {rule['alert']}") >= 3  # firing and quiet cases

    def test_the_mail_alert_selects_by_name_and_contract_labels_only(self) -> None:
        groups = yaml.safe_load((OPS / "prometheus/alerts.yml").read_text())["groups"]
        rules = groups[1]["rules"]
        assert [rule["alert"] for rule in rules] == ["ConnectionMailsNotDelivered"]
        tests = (OPS / "prometheus/alerts.test.yml").read_text()
        (rule,) = rules
        assert set(PROMQL_NAME.findall(rule["expr"])) <= set(exported())
        assert not re.search(r"\b(job|instance)\s*=", rule["expr"])
        assert tests.count(f"alertname: {rule['alert']}") >= 3


def promql_of_grafana(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [expr for value in node.values() for expr in promql_of_grafana(value)]
    if isinstance(node, list):
        return [expr for item in node for expr in promql_of_grafana(item)]
    return []


def datadog_to_openmetrics(name: str, kinds: dict[str, str]) -> str:
    """Undo the OpenMetrics check's naming (ops/datadog/openmetrics.yaml) to find the exported sample."""
    raw = "qualifica_" + name.removeprefix("qualifica.")
    if raw.endswith(".count") and raw.removesuffix(".count") + "_total" in kinds:
        return raw.removesuffix(".count") + "_total"
    for suffix in (".bucket", ".sum", ".count"):
        if raw.endswith(suffix) and raw.removesuffix(suffix) + "_bucket" in kinds:
            return raw.removesuffix(suffix) + "_bucket"
    if raw + "_bucket" in kinds:  # a histogram sent as a distribution
        return raw + "_bucket"
    return raw


class TestDashboards:
    def test_grafana_uses_only_exported_metrics_and_labels(self) -> None:
        dashboard = json.loads((OPS / "grafana/embedded-signup.json").read_text())
        expressions = promql_of_grafana(dashboard["panels"])
        used = {name for expr in expressions for name in PROMQL_NAME.findall(expr)}
        assert used and used <= set(exported()), used - set(exported())
        for expr in expressions:
            for group in re.findall(r"by \(([^)]*)\)", expr):
                assert {label.strip() for label in group.split(",")} <= CONTRACT_LABELS, expr
        titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
        for topic in ("success rate", "time to complete", "errors by code", "cancellations by step",
                      "active connections", "meta graph api latency"):  # fmt: skip
            assert topic in titles

    @pytest.mark.parametrize("artifact", ["dashboard.json", "monitors.json"])
    def test_datadog_uses_only_exported_metrics(self, artifact: str) -> None:
        kinds = exported()
        used = set(DATADOG_NAME.findall((OPS / "datadog" / artifact).read_text()))
        assert used
        assert {datadog_to_openmetrics(name, kinds) for name in used} <= set(kinds)

    def test_datadog_monitors_mirror_the_prometheus_alerts(self) -> None:
        monitors = json.loads((OPS / "datadog/monitors.json").read_text())
        assert [monitor["name"] for monitor in monitors] == [
            "EmbeddedSignupErrorRateHigh", "EmbeddedSignupNoSuccess24h", "EmbeddedSignupCallbacksUnprocessed",
        ]  # fmt: skip
