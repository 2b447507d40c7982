"""Every text people read uses the glossary's word (docs/manual/glossario.md), never the words it refuses.

The texts: every template (ours and the demo's Meta popup, tags and template code removed, the attributes a
screen reader says kept), the page script's own sentences, and the sentences of the modules that hold
customer texts (errors, catalogue, steps, health warnings, e-mail subjects). Code strings (no space) are
not texts.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from qualifica.meta.dates import pt_br_date

ROOT = Path(__file__).resolve().parents[2]
GLOSSARY = ROOT / "docs" / "manual" / "glossario.md"
TEMPLATES = [
    *(ROOT / "qualifica" / "templates").rglob("*.html"),
    *(ROOT / "qualifica/meta/sandbox/templates").glob("*.html"),
]
SCRIPTS = [ROOT / "qualifica" / "static" / "whatsapp.js", ROOT / "qualifica/meta/sandbox/static/popup.js"]
CATALOGUES = [
    ROOT / "qualifica" / path
    for path in (
        "errors.py",
        "whatsapp/errors.py",
        "whatsapp/catalogue.py",
        "whatsapp/steps.py",
        "whatsapp/pages.py",
        "whatsapp/mail/render.py",
        "staff/pages.py",
        "staff/flags.py",
        "staff/organizations.py",
        "staff/organization_pages.py",
        "accounts/invitations.py",
        "accounts/pages.py",
        "webhooks/handlers/account.py",
        "webhooks/handlers/phone_health.py",
        "accounts/errors.py",
        "meta/sandbox/popup_steps.py",
        "meta/sandbox/manager.py",
    )
    if (ROOT / "qualifica" / path).is_file()
]
SPOKEN_ATTRIBUTES = re.compile(r'\b(?:aria-label|title|placeholder|alt)="([^"]*)"')
TEMPLATE_CODE = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}|<script\b.*?</script>|<style\b.*?</style>", re.S)
TAG = re.compile(r"<[^>]+>")
JS_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def refused() -> list[str]:
    """The words of the column 'Nunca usamos', each in backquotes."""
    words: list[str] = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and not cells[0].startswith(("Conceito", "---")):
            words.extend(re.findall(r"`([^`]+)`", cells[2]))
    return words


def template_text(path: Path) -> str:
    source = path.read_text(encoding="utf-8")
    spoken = " ".join(SPOKEN_ATTRIBUTES.findall(source))
    return TAG.sub(" ", TEMPLATE_CODE.sub(" ", source)) + " " + spoken


def sentences(path: Path) -> str:
    """The module's string constants that contain a space (sentences, not codes), docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return "\n".join(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and " " in node.value
        and id(node) not in docstrings
    )


def script_text(path: Path) -> str:
    lines = [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("//")
    ]
    return "\n".join(text for text in JS_STRING.findall("\n".join(lines)) if " " in text)


def texts() -> dict[str, str]:
    found = {str(path.relative_to(ROOT)): template_text(path) for path in TEMPLATES}
    found |= {str(path.relative_to(ROOT)): script_text(path) for path in SCRIPTS if path.is_file()}
    found |= {str(path.relative_to(ROOT)): sentences(path) for path in CATALOGUES}
    return found


def uses(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.IGNORECASE) is not None


def test_the_glossary_refuses_words() -> None:
    words = refused()
    assert {"WhatsApp Manager", "outro fornecedor", "feature flag", "override"} <= set(words)


def test_the_texts_are_where_the_test_looks() -> None:
    found = texts()
    assert len(found) >= 20
    assert "WhatsApp conectado" in found["qualifica/templates/settings_whatsapp.html"]
    assert "Gerenciador do WhatsApp" in found["qualifica/whatsapp/catalogue.py"]


@pytest.mark.parametrize("word", refused())
def test_no_text_uses_a_refused_word(word: str) -> None:
    offending = sorted(name for name, text in texts().items() if uses(text, word))
    assert offending == [], f"{word!r} (see docs/manual/glossario.md) in {offending}"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("April 17, 2025", "17/04/2025"),
        ("Apr 7, 2025", "07/04/2025"),
        ("2025-04-17", "17/04/2025"),
        ("2025-04-17T03:00:00Z", "17/04/2025"),
        (1744862400, "17/04/2025"),
        ("1744862400", "17/04/2025"),
        ("em breve", "em breve"),  # not a date: Meta's words as they came
    ],
)
def test_meta_dates_are_shown_as_dd_mm_aaaa(raw: object, shown: str) -> None:
    assert pt_br_date(raw) == shown
