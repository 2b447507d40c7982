"""``tools/audit_lock.py``: fails on a known vulnerability, says loudly when no service could be asked."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "audit_lock.py"


@pytest.fixture
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_lock", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_pip_audit(monkeypatch: pytest.MonkeyPatch, reports: dict[str, dict[str, Any] | None]) -> list[str]:
    """pip-audit as each service would answer: a JSON report written to ``--output``, or a crash."""
    asked: list[str] = []

    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        service = command[command.index("--vulnerability-service") + 1]
        asked.append(service)
        assert "--require-hashes" in command
        report = reports[service]
        if report is None:
            return subprocess.CompletedProcess(command, 1, "", "ConnectionError: could not resolve host")
        Path(command[command.index("--output") + 1]).write_text(json.dumps(report))
        vulnerable = any(item.get("vulns") for item in report["dependencies"])
        return subprocess.CompletedProcess(command, int(vulnerable), "", "")

    monkeypatch.setattr(subprocess, "run", run)
    return asked


CLEAN = {"dependencies": [{"name": "fastapi", "version": "0.165.0", "vulns": []}], "fixes": []}
VULNERABLE = {
    "dependencies": [
        {"name": "fastapi", "version": "0.165.0", "vulns": []},
        {
            "name": "jinja2",
            "version": "3.1.6",
            "vulns": [{"id": "GHSA-xxxx", "fix_versions": ["3.1.7"], "aliases": [], "description": "x"}],
        },
    ],
    "fixes": [],
}
UNKNOWN = {"dependencies": [{"name": "fastapi", "skip_reason": "Dependency not found on PyPI"}], "fixes": []}


def test_a_known_vulnerability_fails_the_build(
    tool: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_pip_audit(monkeypatch, {"pypi": VULNERABLE, "osv": CLEAN})
    assert tool.main() == 1
    assert "VULNERABLE jinja2==3.1.6: GHSA-xxxx (fixed in: 3.1.7)" in capsys.readouterr().out


def test_a_clean_lock_passes(tool: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_pip_audit(monkeypatch, {"pypi": CLEAN, "osv": VULNERABLE})
    assert tool.main() == 0
    assert asked == ["pypi"]  # the first service that answers decides


def test_an_unreachable_service_falls_back_to_the_next(
    tool: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = fake_pip_audit(monkeypatch, {"pypi": UNKNOWN, "osv": VULNERABLE})
    assert tool.main() == 1
    assert asked == ["pypi", "osv"]


def test_no_service_at_all_is_said_loudly_and_fails_only_when_required(
    tool: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_pip_audit(monkeypatch, {"pypi": UNKNOWN, "osv": None})
    monkeypatch.delenv("AUDIT_REQUIRED", raising=False)
    assert tool.main() == 0
    assert "DEPENDENCY AUDIT NOT RUN" in capsys.readouterr().err
    monkeypatch.setenv("AUDIT_REQUIRED", "1")
    assert tool.main() == 2
