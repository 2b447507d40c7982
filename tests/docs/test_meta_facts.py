"""The Meta facts the code cites live in the repository: every ``docs/meta.md#section`` named in a comment
is a heading of docs/meta.md, and no comment points at a document the repository does not have."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
META = ROOT / "docs" / "meta.md"
SOURCES = sorted((ROOT / "qualifica").rglob("*.py"))


def anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_cited_section_of_docs_meta_exists() -> None:
    sections = {anchor(line.lstrip("#")) for line in META.read_text().splitlines() if line.startswith("## ")}
    cited = {
        (source.relative_to(ROOT).as_posix(), name)
        for source in SOURCES
        for name in re.findall(r"docs/meta\.md#([\w-]+)", source.read_text())
    }
    assert cited, "no comment cites docs/meta.md"
    assert sorted((path, name) for path, name in cited if name not in sections) == []


def test_no_comment_cites_a_document_outside_the_repository() -> None:
    stale = [
        f"{source.relative_to(ROOT)}:{number}"
        for source in SOURCES
        for number, line in enumerate(source.read_text().splitlines(), 1)
        if re.search(r"\breference ?§|\breference\.md\b", line)
    ]
    assert stale == []
