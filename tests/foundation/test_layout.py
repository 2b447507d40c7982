"""The package's shape (CONVENTIONS.md): no import circles, and every import points down the layers.

Layers, top to bottom: the entry points (app, CLI, worker, the page-only packages), the route modules of each
domain (``api.py`` JSON, ``pages.py`` HTML), the domains (``accounts``, ``whatsapp``, ``assistant``,
``webhooks``), and the infrastructure every domain may use. Imports inside functions and under
``TYPE_CHECKING`` count too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

import qualifica

ROOT = Path(qualifica.__file__).parent
ENTRY_POINTS = ("app", "cli", "worker", "staff", "home", "models", "migrations")
DOMAINS = ("accounts", "whatsapp", "assistant", "webhooks")
ROUTE_MODULES = ("api", "pages")
# A domain may lean on the ones listed here, never the other way round.
DOMAIN_MAY_IMPORT = {
    "accounts": set(),
    "whatsapp": {"accounts"},
    "assistant": {"accounts", "whatsapp"},
    "webhooks": {"accounts", "whatsapp", "assistant"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(path): path for path in ROOT.rglob("*.py") if "versions" not in path.parts}


def _imported(node: ast.AST, known: dict[str, Path]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names if alias.name in known)
    elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qualifica"):
        for alias in node.names:
            child = f"{node.module}.{alias.name}"
            yield child if child in known else node.module


@cache
def imports() -> dict[str, frozenset[str]]:
    known = modules()
    graph = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[name] = frozenset(target for node in ast.walk(tree) for target in _imported(node, known))
    return graph


def top(module: str) -> str:
    """``qualifica.whatsapp.pipeline`` → ``whatsapp``; ``qualifica.db`` → ``db``."""
    return module.split(".")[1] if module.count(".") else ""


def layer(module: str) -> int:
    """0 infrastructure, 1 domain, 2 a domain's route module, 3 an entry point."""
    package = top(module)
    if package in ENTRY_POINTS:
        return 3
    if package in DOMAINS:
        return 2 if module.rsplit(".", 1)[-1] in ROUTE_MODULES else 1
    return 0


def find_cycle(graph: dict[str, frozenset[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target] if target in path else [node, target]
            if target not in state and (cycle := visit(target, [*path, target])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


class TestLayout:
    def test_no_module_is_part_of_an_import_circle(self) -> None:
        graph = {name: frozenset(t for t in targets if t != name) for name, targets in imports().items()}

        assert find_cycle(graph) is None

    @pytest.mark.parametrize("source", sorted(modules()))
    def test_imports_point_down_the_layers(self, source: str) -> None:
        upward = sorted(target for target in imports()[source] if layer(target) > layer(source))

        assert upward == [], f"{source} imports a layer above it"

    @pytest.mark.parametrize("domain", DOMAINS)
    def test_a_domain_imports_only_the_domains_below_it(self, domain: str) -> None:
        allowed = DOMAIN_MAY_IMPORT[domain] | {domain}
        crossing = sorted(
            f"{source} → {target}"
            for source, targets in imports().items()
            if top(source) == domain
            for target in targets
            if top(target) in DOMAINS and top(target) not in allowed
        )

        assert crossing == []

    def test_the_checker_sees_a_circle_and_an_upward_import(self) -> None:
        circle = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"})}

        assert find_cycle(circle) == ["a", "b", "c", "a"]
        assert layer("qualifica.whatsapp.pipeline") < layer("qualifica.whatsapp.api") < layer("qualifica.app")
        assert layer("qualifica.observability.analytics") < layer("qualifica.webhooks.inbox")
