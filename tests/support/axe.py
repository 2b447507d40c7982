"""axe-core in the browser tests: every state a test reaches is checked for WCAG 2.0/2.1 A and AA.

axe-core is the npm package of ``tools/axe`` (``package.json`` + ``package-lock.json``), installed by
``make test`` with ``npm ci`` (``make node-deps``); no browser is downloaded. The script is evaluated through
the DevTools protocol, which the page's CSP does not govern, so the page keeps its real CSP.

A serious or critical violation fails the test. ``AXE_MEASURE=<file>`` records every check instead (one JSON
line per state, nothing fails): ``python -m tests.support.axe <file>`` then counts the violations by impact,
each node once (page path, rule, selector) — the before/after figures of the accessibility work.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
INSTALL = "make node-deps"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FAILING = ("serious", "critical")
IMPACTS = ("critical", "serious", "moderate", "minor")

# axe listens to window messages for its frames; the pages' own listeners are counted by tests (and frames
# are not followed), so a messenger that listens to nothing replaces it.
QUIET = "() => window.axe.frameMessenger({ open: () => undefined, post: () => false })"
RUN = """async (tags) => {
  const options = { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"], iframes: false };
  const result = await window.axe.run(document, options);
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.map(String).join(" "), summary: n.failureSummary })),
  }));
}"""


@cache
def axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core is not installed ({AXE_JS}): run {INSTALL}", pytrace=False)
    return AXE_JS.read_text(encoding="utf-8")


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe's violations of the page as it is now (the script is injected once per document)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(axe_source())
        await page.evaluate(QUIET)
    found: list[dict[str, Any]] = await page.evaluate(RUN, TAGS)
    return found


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for violation in found:
        lines.append(f"{violation['impact']}: {violation['id']} — {violation['help']}")
        lines.extend(f"    {node['target']}: {node['summary']}" for node in violation["nodes"][:5])
    return "\n".join(lines)


async def assert_accessible(page: Page, state: str = "") -> None:
    """No serious or critical axe violation on the page in its current state (``state`` names it)."""
    found = await violations(page)
    measure = os.environ.get("AXE_MEASURE")
    if measure:
        record = {"path": urlsplit(page.url).path, "state": state, "violations": found}
        _append(Path(measure), json.dumps(record, ensure_ascii=False))
        return
    failing = [violation for violation in found if violation["impact"] in FAILING]
    assert not failing, f"axe on {page.url} ({state or 'page'}):\n{describe(failing)}"


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")


def summarize(records: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """Distinct nodes by impact (and by rule), each (path, rule, selector) counted once."""
    seen: set[tuple[str, str, str]] = set()
    by_impact: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    for record in records:
        for violation in record["violations"]:
            for node in violation["nodes"]:
                key = (record["path"], violation["id"], node["target"])
                if key in seen:
                    continue
                seen.add(key)
                by_impact[violation["impact"] or "unknown"] += 1
                by_rule[f"{violation['impact']}:{violation['id']}"] += 1
    return {"impact": by_impact, "rule": by_rule}


def main(argv: list[str]) -> int:
    records = [json.loads(line) for line in Path(argv[1]).read_text(encoding="utf-8").splitlines() if line]
    counts = summarize(records)
    states = len(records)
    print(f"{states} states checked")
    print("by impact: " + ", ".join(f"{impact} {counts['impact'][impact]}" for impact in IMPACTS))
    for rule, count in sorted(counts["rule"].items()):
        print(f"  {rule}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
