"""Request and response bodies of the WhatsApp connection API (ARCHITECTURE §4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from qualifica.errors import ErrorInfo
from qualifica.whatsapp.models import ConnectionStatus

MetaId = str  # Meta ids are decimal strings; kept as text, never as numbers
# Meta's in-flow error codes are numbers, sent as text or as numbers; short and plain, as they become labels.
FlowCode = (
    Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
    | Annotated[int, Field(ge=0, lt=10**15)]
)
Id = Field(default=None, max_length=64, pattern=r"^[0-9]{1,64}$")


class StartResponse(BaseModel):
    state: str
    attempt_id: str
    app_id: str
    config_id: str
    graph_api_version: str
    sdk_url: str
    extras: dict[str, Any]
    message_origins: list[str]
    dialog_url: str
    redirect_uri: str


class CallbackRequest(BaseModel):
    code: str = Field(min_length=1, max_length=2048)
    state: str = Field(min_length=1, max_length=1024)
    event: str | None = Field(default=None, max_length=64, pattern=r"^[A-Z_]{1,64}$")
    waba_id: MetaId | None = Id
    phone_number_id: MetaId | None = Id
    business_id: MetaId | None = Id


class CallbackDone(BaseModel):
    """200 of the callback and of the PIN: the connection is saved."""

    model_config = ConfigDict(
        json_schema_serialization_defaults_required=True,  # always sent, so required in /docs
        json_schema_extra={
            "examples": [{"success": True, "connection_id": "0d5c4c1e-9d1b-4ad6-9e1f-0f4a7b2c9e10"}]
        },
    )

    success: Literal[True] = True
    connection_id: str


Pending = Literal["processing", "pin_required", "choice_required", "verification_required", "number_required"]


class WabaChoice(BaseModel):
    id: str
    name: str | None = None


class PhoneChoice(BaseModel):
    id: str
    display_phone_number: str | None = None
    verified_name: str | None = None


class Choices(BaseModel):
    """What the admin picks from when Meta's answer is ambiguous (ARCHITECTURE §14)."""

    wabas: list[WabaChoice] = Field(default_factory=list)
    phone_numbers: list[PhoneChoice] = Field(default_factory=list)


class CallbackPending(BaseModel):
    """202 of the callback: still running (poll the status), or waiting for the admin: the number's
    existing PIN, a choice of WABA or number (``choices``), the number's code, or a number at all."""

    model_config = ConfigDict(
        json_schema_serialization_defaults_required=True,
        json_schema_extra={
            "examples": [
                {
                    "success": False,
                    "status": "processing",
                    "attempt_id": "5f0e2b8a-3c41-4d8e-a1b7-2e6f9c0d4a35",
                },
                {
                    "success": False,
                    "status": "pin_required",
                    "attempt_id": "5f0e2b8a-3c41-4d8e-a1b7-2e6f9c0d4a35",
                },
                {
                    "success": False,
                    "status": "choice_required",
                    "attempt_id": "5f0e2b8a-3c41-4d8e-a1b7-2e6f9c0d4a35",
                    "choices": {
                        "wabas": [
                            {"id": "600000000000006", "name": "Horizonte Imóveis"},
                            {"id": "600000000000007", "name": "Horizonte Lançamentos"},
                        ],
                        "phone_numbers": [],
                    },
                },
            ]
        },
    )

    success: Literal[False] = False
    status: Pending
    attempt_id: str
    choices: Choices | None = None

    def content(self) -> dict[str, Any]:
        """As sent: ``choices`` only when there is a choice to make."""
        return self.model_dump(mode="json", exclude_none=True)


class ChooseRequest(BaseModel):
    attempt_id: uuid.UUID
    waba_id: MetaId = Field(max_length=64, pattern=r"^[0-9]{1,64}$")
    phone_number_id: MetaId | None = Id


class VerificationCodeRequest(BaseModel):
    method: Literal["sms", "voice"]


class VerifyCodeRequest(BaseModel):
    code: str = Field(max_length=32)


class NumberRequest(BaseModel):
    """A number to add to the WABA: validated in ``verification.add_number`` (pt-BR messages)."""

    country_code: str = Field(max_length=8)
    phone_number: str = Field(max_length=32)
    verified_name: str = Field(max_length=512)


class VerificationAnswer(BaseModel):
    """200 of asking for the code and of adding a number: the number now waits for its code."""

    status: Literal["verification_required"] = "verification_required"
    phone_number: PhoneChoice
    method: Literal["sms", "voice"] | None = None


class CancelRequest(BaseModel):
    state: str = Field(min_length=1, max_length=1024)
    step: str | None = Field(default=None, max_length=64)


class ErrorReport(BaseModel):
    state: str = Field(min_length=1, max_length=1024)
    step: str | None = Field(default=None, max_length=64)
    error_code: FlowCode | None = None
    error_id: FlowCode | None = None  # the name Meta used before Mar 2026
    error_message: str | None = Field(default=None, max_length=2000)
    session_id: str | None = Field(default=None, max_length=128)


class DisconnectRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class PinRequest(BaseModel):
    pin: str = Field(max_length=32)


class ConnectionOut(BaseModel):
    """The connection as the status endpoint shows it: read from the row, secrets never among the fields."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    waba_id: str
    phone_number_id: str
    display_phone_number: str | None
    business_name: str | None
    business_id: str | None
    verified_name: str | None
    status: ConnectionStatus
    connected_at: datetime | None
    disconnected_at: datetime | None
    token_expires_at: datetime | None
    has_existing_number: bool | None
    quality_rating: str | None
    name_status: str | None
    messaging_limit: str | None
    health_warnings: Annotated[list[Any], BeforeValidator(lambda warnings: warnings or [])]
    health: dict[str, Any] | None = None  # the number's last good health snapshot (health_status, status)
    last_health_check_at: datetime | None
    last_health_error: str | None = None


class ErrorOut(ErrorInfo):
    """The status endpoint's ``error``: ``hint`` is always there, null when there is none."""


class StatusResponse(BaseModel):
    status: Literal[
        "not_connected",
        "connecting",
        "pin_required",
        "choice_required",
        "verification_required",
        "number_required",
        "active",
        "disconnected",
        "error",
    ]
    connection: ConnectionOut | None
    error: ErrorOut | None
    attempt_id: str | None = None
    step: str | None = None
    choices: Choices | None = None  # choice_required: the same choices the callback answered
    phone_number: PhoneChoice | None = None  # verification_required: the number waiting for its code


class DisconnectResponse(BaseModel):
    status: Literal["disconnected"] = "disconnected"
