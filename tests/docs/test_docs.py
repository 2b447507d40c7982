"""The documentation cannot drift from the product: links resolve, images are produced by the test suite,
every error code is explained, and the user manual stays readable for a non-technical admin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qualifica.errors import AppError
from qualifica.whatsapp.catalogue import FLOW_ERRORS, GRAPH_ERRORS

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([*ROOT.glob("docs/**/*.md"), ROOT / "README.md"])
MANUAL = ROOT / "docs" / "manual" / "conectar-whatsapp.md"
RUNBOOK = ROOT / "docs" / "ops" / "runbook.md"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def local_links(document: Path) -> list[str]:
    return [
        target.split("#", 1)[0]
        for target in LINK.findall(document.read_text())
        if not re.match(r"^[a-z]+:", target) and not target.startswith("#")
    ]


@pytest.mark.parametrize("document", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_to_a_file_in_the_repository(document: Path) -> None:
    missing = [t for t in local_links(document) if not (document.parent / t).resolve().exists()]
    assert missing == []


def test_every_manual_image_is_regenerated_by_the_test_suite() -> None:
    images = [t for t in local_links(MANUAL) if t.endswith(".png")]
    assert len(images) >= 15
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))
    # The page's screenshots are named by state ("whatsapp-" + state) in tests/e2e/pilot.py.
    not_produced = [
        image
        for image in images
        if Path(image).stem not in tests and f'"{Path(image).stem.removeprefix("whatsapp-")}"' not in tests
    ]
    assert not_produced == []


def test_the_runbook_explains_every_error_code() -> None:
    runbook = RUNBOOK.read_text()
    api_codes = {cls.code for cls in _subclasses(AppError)} - {"internal_error"}
    catalogue = {e.code for e in GRAPH_ERRORS.values()} | {e.code for e in FLOW_ERRORS.values()}
    flow_codes = set(FLOW_ERRORS)
    undocumented = sorted(
        c for c in api_codes | catalogue | flow_codes if f"`{c}`" not in runbook and c not in runbook
    )
    assert undocumented == []


def test_the_manual_is_written_for_a_non_technical_reader() -> None:
    text = MANUAL.read_text()
    prose = re.sub(r"!\[[^\]]*\]\([^)]*\)|\|.*\||^#.*$", " ", text, flags=re.MULTILINE)
    sentences = [s for s in re.split(r"(?<=[.!?:])\s+", prose) if len(s.split()) > 2]
    average = sum(len(s.split()) for s in sentences) / len(sentences)
    assert average < 18, f"average sentence length {average:.1f} words"
    for jargon in ("token", "webhook", "API", "OAuth", "endpoint", "callback"):
        assert not re.search(rf"\b{jargon}\b", text, flags=re.IGNORECASE), jargon
    glossary = text.split("## Antes de começar")[0]
    for term in ("**Meta**", "**Portfólio empresarial**", "(WABA)**", "**PIN"):
        assert term in glossary, f"{term} is not explained up front"


def _subclasses(cls: type[AppError]) -> list[type[AppError]]:
    import qualifica.app  # noqa: F401 - imports every module that defines an error

    found: list[type[AppError]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found
