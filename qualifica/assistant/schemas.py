"""Bodies of the assistant's messages API (ARCHITECTURE §15), with the examples the OpenAPI shows."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qualifica.assistant.errors import InvalidTestNumber
from qualifica.assistant.models import MessageStatus

PHONE = r"^\+?[1-9][0-9]{7,14}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextContent(_Body):
    body: str = Field(min_length=1, max_length=4096, description="O texto (até 4.096 caracteres).")
    preview_url: bool = Field(default=False, description="Mostrar a prévia do primeiro link do texto.")


class TemplateLanguage(_Body):
    code: str = Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$", examples=["pt_BR", "en_US"])


class TemplateContent(_Body):
    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$", examples=["hello_world"])
    language: TemplateLanguage
    # Meta's components as they are (header/body/button parameters): passed through unchanged.
    components: list[dict[str, Any]] | None = Field(default=None, max_length=20)


class SendRequest(_Body):
    organization_id: uuid.UUID | None = Field(
        default=None, description="Obrigatório para uma chave não vinculada a uma organização."
    )
    to: str = Field(pattern=PHONE, description="O número do contato (wa_id), só dígitos, com o país.")
    type: Literal["text", "template"]
    text: TextContent | None = None
    template: TemplateContent | None = None
    reply_to: str | None = Field(
        default=None, min_length=1, max_length=256, description="O wamid da mensagem do contato respondida."
    )

    @model_validator(mode="after")
    def _content_matches_type(self) -> SendRequest:
        if self.type == "text" and (self.text is None or self.template is not None):
            raise ValueError("type text takes text (and no template)")
        if self.type == "template" and (self.template is None or self.text is not None):
            raise ValueError("type template takes template (and no text)")
        return self

    @property
    def recipient(self) -> str:
        return self.to.lstrip("+")

    def meta_body(self) -> dict[str, Any]:
        """Meta's body (reference 2026 §5.1), ``messaging_product`` added by the client."""
        body: dict[str, Any] = {"recipient_type": "individual", "to": self.recipient, "type": self.type}
        if self.text is not None:
            body["text"] = {"preview_url": self.text.preview_url, "body": self.text.body}
        if self.template is not None:
            template = self.template.model_dump(exclude_none=True)
            # Meta's OpenAPI description requires the language's ``policy`` (its one value).
            template["language"] = {"policy": "deterministic", **template["language"]}
            body["template"] = template
        if self.reply_to is not None:
            body["context"] = {"message_id": self.reply_to}
        return body

    def digest(self, organization_id: uuid.UUID) -> str:
        """What an ``Idempotency-Key`` is bound to: this request's content, for this organization."""
        content = self.model_dump(mode="json", exclude={"organization_id"}, exclude_none=True)
        canonical = json.dumps([str(organization_id), content], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


TEST_TEMPLATE = TemplateContent(name="hello_world", language=TemplateLanguage(code="en_US"))


class TestMessageRequest(_Body):
    """The settings page's test: a phone number as a person types it (spaces, dashes, a leading +)."""

    to: str = Field(min_length=1, max_length=40, examples=["+55 11 98765-4321"])

    def as_send_request(self) -> SendRequest:
        digits = re.sub(r"[\s().+-]", "", self.to)
        if not re.fullmatch(PHONE, digits):
            raise InvalidTestNumber
        return SendRequest(to=digits, type="template", template=TEST_TEMPLATE)


class SentAnswer(BaseModel):
    id: uuid.UUID
    wamid: str
    status: Literal["sent"] = "sent"


class QueuedAnswer(BaseModel):
    id: uuid.UUID
    status: Literal["queued"] = "queued"


class MessageError(BaseModel):
    code: str
    message: str


class HistoryItem(BaseModel):
    status: MessageStatus
    at: datetime


class MessageView(BaseModel):
    id: uuid.UUID
    wamid: str | None
    to: str
    status: MessageStatus
    error: MessageError | None
    history: list[HistoryItem]


TEXT_EXAMPLE = {
    "to": "5511987650001",
    "type": "text",
    "text": {"body": "Sim, o apartamento aceita financiamento."},
    "reply_to": "wamid.HBgNNTUxMTk4NzY1MDAwMRUCABIYFjNFQjBDMjA",
}
SEND_EXAMPLES: dict[str, Any] = {
    "text": {"summary": "Texto, respondendo a uma mensagem do contato", "value": TEXT_EXAMPLE},
    "template": {
        "summary": "Modelo aprovado (o único permitido fora da janela de 24 h)",
        "value": {
            "to": "5511987650001",
            "type": "template",
            "template": {
                "name": "novo_imovel",
                "language": {"code": "pt_BR"},
                "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": "Rua das Flores, 10"}]}
                ],
            },
        },
    },
    "unbound_key": {
        "summary": "Chave não vinculada: a organização no corpo",
        "value": {"organization_id": "9b2f0c4e-5d6a-4f1b-8c3d-2e7a9f0b1c4d", **TEXT_EXAMPLE},
    },
}
