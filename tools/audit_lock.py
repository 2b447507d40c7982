"""Audit requirements.lock for known vulnerabilities with pip-audit (``make audit``, run by CI).

Exit 1 when a pinned release has a known vulnerability, naming each one and the releases that fix it.
pip-audit asks a vulnerability service (PyPI's JSON API, then OSV); a machine that reaches only the package
index cannot audit at all. Then this prints a loud ``DEPENDENCY AUDIT NOT RUN`` and exits 0, so the build
is not blocked by a network it cannot have — unless ``AUDIT_REQUIRED=1``, which makes that exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

LOCK = Path(__file__).resolve().parents[1] / "requirements.lock"
SERVICES = ("pypi", "osv")


def audit(service: str) -> dict[str, Any] | None:
    """pip-audit's JSON report, or None when the service did not answer."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "audit.json"
        command = [
            sys.executable, "-m", "pip_audit", "--requirement", str(LOCK), "--require-hashes",
            "--disable-pip", "--progress-spinner", "off", "--vulnerability-service", service,
            "--format", "json", "--output", str(report),
        ]  # fmt: skip
        run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
        if not report.exists():
            print(f"audit: the {service} service did not answer ({_last_line(run.stderr)})", file=sys.stderr)
            return None
        result: dict[str, Any] = json.loads(report.read_text())
    dependencies = result.get("dependencies", [])
    if dependencies and all("skip_reason" in item for item in dependencies):
        print(f"audit: the {service} service knew none of the {len(dependencies)} pins", file=sys.stderr)
        return None
    return result


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def main() -> int:
    for service in SERVICES:
        result = audit(service)
        if result is None:
            continue
        dependencies = result["dependencies"]
        found = [(item, vuln) for item in dependencies for vuln in item.get("vulns", [])]
        skipped = [item["name"] for item in dependencies if "skip_reason" in item]
        if skipped:
            print(f"audit: not audited (unknown to {service}): {', '.join(skipped)}", file=sys.stderr)
        for item, vuln in found:
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed release yet"
            print(f"VULNERABLE {item['name']}=={item['version']}: {vuln['id']} (fixed in: {fixes})")
        if found:
            print(f"audit: {len(found)} known vulnerabilit(ies) in {LOCK.name} ({service})", file=sys.stderr)
            return 1
        print(f"audit: no known vulnerabilities in {len(dependencies)} pins of {LOCK.name} ({service})")
        return 0
    banner = "=" * 72
    print(
        f"{banner}\nDEPENDENCY AUDIT NOT RUN: no vulnerability service answered "
        f"({', '.join(SERVICES)}).\nRun `make audit` where one is reachable.\n{banner}",
        file=sys.stderr,
    )
    return 2 if os.environ.get("AUDIT_REQUIRED") == "1" else 0


if __name__ == "__main__":
    sys.exit(main())
