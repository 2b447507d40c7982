"""Step names and texts have one home (``whatsapp/steps.py``); the page's script reads them from the page."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

import qualifica
from qualifica.accounts.models import User
from qualifica.whatsapp.errors import META_ERROR_MESSAGE, meta_error_sentence
from qualifica.whatsapp.steps import PageStage, Progress, popup_step, progress_text, step_texts
from tests.support.accounts import sign_in
from tests.support.signup import META_STEPS

SCRIPT = Path(qualifica.__file__).parent / "static" / "whatsapp.js"


class Root(HTMLParser):
    """The attributes of the page's ``#whatsapp`` element."""

    def __init__(self) -> None:
        super().__init__()
        self.attributes: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if ("id", "whatsapp") in attrs:
            self.attributes = dict(attrs)


class TestPopupSteps:
    @pytest.mark.parametrize(
        ("current_step", "recorded"),
        [
            *META_STEPS,
            ("payment", "payment"),
            ("SOMETHING_NEW ", "something_new"),
            (None, "login"),
            ("", "login"),
        ],
    )
    def test_meta_current_step_is_recorded_as_the_contract_names_it(
        self, current_step: str | None, recorded: str
    ) -> None:
        assert popup_step(current_step) == recorded


class TestTexts:
    def test_a_marker_this_release_does_not_know_still_reads_well(self) -> None:
        assert progress_text(Progress.REGISTERING) == "Registrando o número na API oficial do WhatsApp…"
        assert progress_text("a_newer_marker") == progress_text(None) == "Finalizando a conexão…"

    @pytest.mark.parametrize(
        ("words", "sentence_words"),
        [("(#100) Invalid parameter", "(#100) Invalid parameter"), (" Limite atingido. ", "Limite atingido")],
    )
    def test_the_meta_error_sentence_has_one_period_after_meta_words(
        self, words: str, sentence_words: str
    ) -> None:
        assert meta_error_sentence(words) == (
            f"Não foi possível conectar. Erro: {sentence_words}. Entre em contato com suporte."
        )
        assert (
            meta_error_sentence("")
            == meta_error_sentence(None)
            == ("Não foi possível conectar. Erro: erro desconhecido. Entre em contato com suporte.")
        )

    def test_the_script_keeps_no_copy_of_the_step_texts_or_the_meta_error_sentence(self) -> None:
        script = SCRIPT.read_text()
        texts = [*step_texts().values(), "Não foi possível conectar", "Entre em contato com suporte"]

        assert [text for text in texts if text in script] == []

    async def test_the_page_hands_its_texts_to_the_script(
        self, client: httpx.AsyncClient, admin: User
    ) -> None:
        await sign_in(client, admin)
        page = await client.get("/settings/whatsapp", headers={"Accept": "text/html"})
        assert page.status_code == 200
        root = Root()
        root.feed(page.text)

        assert json.loads(root.attributes["data-step-texts"] or "") == step_texts()
        assert set(step_texts()) == {*Progress, *PageStage}
        assert root.attributes["data-meta-error"] == META_ERROR_MESSAGE
        assert root.attributes["data-failed-title"] == "Não foi possível conectar"
        assert root.attributes["data-pin-format"] == "O PIN deve ter exatamente 6 dígitos."
        assert "<script>" not in page.text  # the texts travel as data, never as inline script
