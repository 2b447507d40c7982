"""Typed results of the Graph calls. Unknown fields are ignored; missing optional ones become ``None``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qualifica.meta.webhook_subscription import WEBHOOK_OBJECT

# The scopes ES tokens carried until June 2026 (docs/meta.md#business-tokens-and-granular-scopes, "older
# shape").
WHATSAPP_SCOPES = ("whatsapp_business_management", "whatsapp_business_messaging")
# Since 2026-06-10 tokens may carry this one instead (docs/meta.md#business-tokens-and-granular-scopes).
MANAGE_EVENTS_SCOPE = "whatsapp_business_manage_events"
# Its target_ids are business portfolio ids, never WABAs (docs/meta.md#business-tokens-and-granular-scopes,
# nyaruka/rapidpro#6666).
PORTFOLIO_SCOPE = "business_management"


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

    @property
    def waba_hints(self) -> frozenset[str]:
        """Ids granted under any ``whatsapp_*`` granular scope, minus portfolio ids: a hint, unordered.

        Both token shapes count (docs/meta.md#business-tokens-and-granular-scopes): the old WhatsApp scopes
        and June 2026's
        ``whatsapp_business_manage_events``. Meta's order varies between tokens, so there is none here;
        whether the token reads a WABA is proven by reading it, not by this set.
        """
        portfolios = self.portfolio_ids
        return frozenset(
            target
            for granular in self.granular_scopes
            if granular.scope.startswith("whatsapp_")
            for target in granular.target_ids
            if target not in portfolios
        )

    @property
    def portfolio_ids(self) -> frozenset[str]:
        return frozenset(
            target
            for granular in self.granular_scopes
            if granular.scope == PORTFOLIO_SCOPE
            for target in granular.target_ids
        )

    @property
    def has_legacy_whatsapp_scopes(self) -> bool:
        """The pre-June-2026 shape: one of the two classic WhatsApp scopes is granted."""
        granted = set(self.scopes) | {g.scope for g in self.granular_scopes}
        return any(scope in granted for scope in WHATSAPP_SCOPES)


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


class SuccessAnswer(_MetaModel):
    """``{"success": true}``: request_code (OpenAPI ``RequestCodeResponse``), register, subscribed_apps."""

    success: bool


class VerifyCodeAnswer(SuccessAnswer):
    """``verify_code``: OpenAPI ``VerifyCodeResponse`` (``id`` is the verified number's id, optional)."""

    id: str | None = None


class AddedPhoneNumber(_MetaModel):
    """``POST /{waba_id}/phone_numbers``: the new number's id (docs/meta.md#number-verification)."""

    id: str


class SmbAppDataRequest(_MetaModel):
    """``POST /{phone_number_id}/smb_app_data``: accepted, not yet shared (docs/meta.md#coexistence-syncs)."""

    messaging_product: str = "whatsapp"
    request_id: str


class SentContact(_MetaModel):
    input: str = ""
    wa_id: str = ""  # "" when sent to a username user's BSUID (reference 2026 §5.1)


class SentMessageId(_MetaModel):
    id: str
    message_status: str | None = None  # accepted | held_for_quality_assessment | paused


class SentMessage(_MetaModel):
    """``POST /{phone_number_id}/messages``'s answer (Meta OpenAPI ``MessageResponsePayload``)."""

    messaging_product: str = "whatsapp"
    contacts: list[SentContact] = Field(default_factory=list)
    messages: list[SentMessageId] = Field(min_length=1)

    @property
    def wamid(self) -> str:
        return self.messages[0].id


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
    def regain_seconds(self) -> float | None:
        """The longest ``estimated_time_to_regain_access`` in seconds (Meta gives minutes), None when 0.

        Unit: minutes (docs/meta.md#rate-limits).
        """
        minutes = max(
            (u.estimated_time_to_regain_access for group in self.business_use_case.values() for u in group),
            default=0.0,
        )
        return minutes * 60.0 if minutes > 0 else None

    @property
    def max_percent(self) -> float:
        values = [0.0]
        for usage in [self.app, *(u for group in self.business_use_case.values() for u in group)]:
            if usage is not None:
                values += [usage.call_count, usage.total_cputime, usage.total_time]
        return max(values)


class MediaInfo(_MetaModel):
    """``GET /{media_id}``: a received media's download URL (valid for 5 minutes) and what it is."""

    url: str
    mime_type: str | None = None
    sha256: str | None = None
    file_size: int | None = None
    id: str | None = None
