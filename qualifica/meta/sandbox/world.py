"""The sandbox's picture of Meta: businesses, WABAs, numbers, codes and tokens. Plain data, no I/O."""

from __future__ import annotations

import random
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

PROFILE_NAME = "Ana Souza"
# Our app's own business (the Tech Provider): the entry id of partner-level account_update webhooks
# (docs/meta.md#webhook-notifications).
PARTNER_BUSINESS_ID = "880000000000900"
REGISTRATION_WINDOW_SECONDS = 72 * 3600
REGISTRATION_LIMIT = 10
CODE_TTL_SECONDS = 30.0


@dataclass
class Business:
    id: str
    name: str


@dataclass
class Waba:
    id: str
    name: str
    owner_business_id: str
    currency: str = "BRL"
    timezone_id: str = "25"  # an id from Meta's timezone table (opaque to us)
    message_template_namespace: str = ""
    account_review_status: str = "APPROVED"
    status: str = "ACTIVE"
    subscribed_apps: set[str] = field(default_factory=set)


@dataclass
class Phone:
    id: str
    waba_id: str
    display_phone_number: str
    verified_name: str
    code_verification_status: str = "NOT_VERIFIED"
    quality_rating: str = "UNKNOWN"
    platform_type: str = "NOT_APPLICABLE"
    throughput_level: str = "NOT_APPLICABLE"
    name_status: str = "AVAILABLE_WITHOUT_REVIEW"
    is_on_biz_app: bool = False
    status: str = "PENDING"
    account_mode: str = "LIVE"
    pin: str | None = field(default=None, repr=False)
    registrations: list[float] = field(default_factory=list)

    def as_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_phone_number": self.display_phone_number,
            "verified_name": self.verified_name,
            "code_verification_status": self.code_verification_status,
            "quality_rating": self.quality_rating,
            "platform_type": self.platform_type,
            "throughput": {"level": self.throughput_level},
            "name_status": self.name_status,
            "is_on_biz_app": self.is_on_biz_app,
            "status": self.status,
            "account_mode": self.account_mode,
            "is_pin_enabled": self.pin is not None,
            "messaging_limit_tier": "TIER_250",
            "health_status": {
                "can_send_message": "AVAILABLE" if self.status == "CONNECTED" else "LIMITED",
                "entities": [{"entity_type": "PHONE_NUMBER", "id": self.id, "can_send_message": "AVAILABLE"}],
            },
        }


@dataclass
class Code:
    value: str = field(repr=False)
    app_id: str
    business_id: str
    waba_ids: list[str]
    created_at: float
    redirect_uri: str | None = None
    used: bool = False


@dataclass
class Token:
    value: str = field(repr=False)
    app_id: str
    business_id: str
    waba_ids: list[str]  # newest first, as debug_token's target_ids
    issued_at: int
    expires_at: int = 0
    revoked: bool = False
    user_id: str = ""


class IdMaker:
    """Meta-looking numeric ids and opaque secrets; seeded ids keep screenshots and docs stable."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - ids of a fake, not secrets

    def id(self, digits: int = 15) -> str:
        return str(self._rng.randrange(10 ** (digits - 1), 10**digits))

    def namespace(self) -> str:
        letters = string.ascii_lowercase + string.digits
        return "".join(self._rng.choice(letters) for _ in range(12))

    def phone(self) -> str:
        return f"+55 11 9{self._rng.randrange(1000, 9999)}-{self._rng.randrange(1000, 9999)}"

    @staticmethod
    def code() -> str:
        return "AQ" + secrets.token_urlsafe(48)

    @staticmethod
    def token() -> str:
        return "EAA" + secrets.token_urlsafe(96).replace("-", "").replace("_", "")[:120]

    @staticmethod
    def trace() -> str:
        return "A" + secrets.token_urlsafe(16)


@dataclass
class World:
    ids: IdMaker
    user_id: str
    businesses: dict[str, Business] = field(default_factory=dict)
    wabas: dict[str, Waba] = field(default_factory=dict)
    phones: dict[str, Phone] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    app_tokens: set[str] = field(default_factory=set)

    def add_business(self, name: str) -> Business:
        business = Business(self.ids.id(), name)
        self.businesses[business.id] = business
        return business

    def add_waba(self, business_id: str, name: str) -> Waba:
        waba = Waba(self.ids.id(), name, business_id, message_template_namespace=self.ids.namespace())
        self.wabas[waba.id] = waba
        return waba

    def add_phone(self, waba_id: str, display: str, verified_name: str, **fields: Any) -> Phone:
        phone = Phone(self.ids.id(), waba_id, display, verified_name, **fields)
        self.phones[phone.id] = phone
        return phone

    def wabas_of(self, business_id: str) -> list[Waba]:
        return [w for w in self.wabas.values() if w.owner_business_id == business_id]

    def phones_of(self, waba_id: str) -> list[Phone]:
        return [p for p in self.phones.values() if p.waba_id == waba_id]


def seeded_world(seed: int | None = 7) -> World:
    """One admin with two portfolios: a WABA with a Cloud-ready number, and a WhatsApp Business app number."""
    ids = IdMaker(seed)
    world = World(ids=ids, user_id=ids.id(17))
    horizonte = world.add_business("Imobiliária Horizonte Ltda")
    world.add_business("Lima & Filhos Corretores")
    waba = world.add_waba(horizonte.id, "Horizonte Imóveis")
    world.add_phone(
        waba.id,
        "+55 11 3090-1234",
        "Horizonte Imóveis",
        code_verification_status="VERIFIED",
        name_status="APPROVED",
        quality_rating="GREEN",
    )
    world.add_phone(
        waba.id,
        "+55 11 98765-4321",
        "Horizonte Imóveis Atendimento",
        code_verification_status="VERIFIED",
        name_status="APPROVED",
        quality_rating="GREEN",
        platform_type="CLOUD_API",
        throughput_level="STANDARD",
        is_on_biz_app=True,
        status="CONNECTED",
    )
    return world
