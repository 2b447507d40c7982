"""Typed results of the Graph calls. Unknown fields are ignored; missing optional ones become ``None``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qualifica.meta.webhook_subscription import WEBHOOK_OBJECT

WHATSAPP_SCOPES = ("whatsapp_business_management", "whatsapp_business_messaging")


class _MetaModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TokenExchange(_MetaModel):
    access_token: str = Field(repr=False)
    token_type: str = "bearer"  # noqa: S105 - a token kind, not a token
    # Meta's page shows no body at all; business tokens come with or without it (reference "Uncertain" 1).
    expires_in: int | None = None


class GranularScope(_MetaModel):
    scope: str
    target_ids: list[str] = Field(default_factory=list)


class TokenError(_MetaModel):
    code: int | None = None
    message: str = ""
    subcode: int | None = None


class TokenInfo(_MetaModel):
    is_valid: bool = False
    type: str | None = None
    app_id: str | None = None
    application: str | None = None
    user_id: str | None = None
    issued_at: int | None = None
    expires_at: int | None = None
    data_access_expires_at: int | None = None
    scopes: list[str] = Field(default_factory=list)
    granular_scopes: list[GranularScope] = Field(default_factory=list)
    error: TokenError | None = None

    @property
    def never_expires(self) -> bool:
        return not self.expires_at

    def granted_waba_ids(self) -> list[str]:
        """WABA ids granted through either WhatsApp scope, newest first (Meta's order), without repeats."""
        seen: dict[str, None] = {}
        for scope in WHATSAPP_SCOPES:
            for granular in self.granular_scopes:
                if granular.scope == scope:
                    seen.update(dict.fromkeys(granular.target_ids))
        return list(seen)


class BusinessInfo(_MetaModel):
    id: str
    name: str | None = None


class Waba(_MetaModel):
    id: str
    name: str | None = None
    currency: str | None = None
    timezone_id: str | None = None
    message_template_namespace: str | None = None
    owner_business_info: BusinessInfo | None = None
    on_behalf_of_business_info: BusinessInfo | None = None
    account_review_status: str | None = None
    status: str | None = None

    @property
    def business_name(self) -> str | None:
        """The portfolio name, falling back to the WABA's own name (ARCHITECTURE §10)."""
        if self.owner_business_info and self.owner_business_info.name:
            return self.owner_business_info.name
        return self.name


class Throughput(_MetaModel):
    level: str | None = None


class PhoneNumber(_MetaModel):
    id: str
    display_phone_number: str | None = None
    verified_name: str | None = None
    code_verification_status: str | None = None
    quality_rating: str | None = None
    platform_type: str | None = None
    throughput: Throughput | None = None
    name_status: str | None = None
    new_name_status: str | None = None
    is_on_biz_app: bool | None = None
    status: str | None = None
    account_mode: str | None = None
    messaging_limit_tier: str | None = None
    is_pin_enabled: bool | None = None
    last_onboarded_time: str | None = None
    health_status: dict[str, Any] | None = None

    @property
    def throughput_level(self) -> str | None:
        return self.throughput.level if self.throughput else None

    @property
    def needs_registration(self) -> bool:
        """Chatwoot's heuristic: a coexistence number, or one already on the Cloud API, is registered."""
        if self.is_on_biz_app:
            return False
        return (
            self.code_verification_status != "VERIFIED"
            or self.platform_type in (None, "NOT_APPLICABLE")
            or self.throughput_level in (None, "NOT_APPLICABLE")
        )


class AppCheck(_MetaModel):
    """The preflight: the app token works and the id/secret pair belongs together."""

    app_id: str
    name: str | None = None
    token_type: str | None = None
    is_valid: bool
    webhook_subscriptions: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def webhook_fields(self) -> list[str]:
        return [
            field["name"]
            for subscription in self.webhook_subscriptions
            if subscription.get("object") == WEBHOOK_OBJECT
            for field in subscription.get("fields", [])
            if isinstance(field, dict) and "name" in field
        ]


class AppUsage(_MetaModel):
    call_count: float = 0
    total_cputime: float = 0
    total_time: float = 0


class BusinessUseCaseUsage(AppUsage):
    type: str | None = None
    estimated_time_to_regain_access: float = 0

    @field_validator("estimated_time_to_regain_access", mode="before")
    @classmethod
    def _none_is_zero(cls, value: object) -> object:
        return 0 if value is None else value


class GraphUsage(_MetaModel):
    """``X-App-Usage`` and ``X-Business-Use-Case-Usage`` of the last answer (percentages; 100 throttles)."""

    app: AppUsage | None = None
    business_use_case: dict[str, list[BusinessUseCaseUsage]] = Field(default_factory=dict)

    @property
    def max_percent(self) -> float:
        values = [0.0]
        for usage in [self.app, *(u for group in self.business_use_case.values() for u in group)]:
            if usage is not None:
                values += [usage.call_count, usage.total_cputime, usage.total_time]
        return max(values)
