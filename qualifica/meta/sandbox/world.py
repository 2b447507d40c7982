"""The sandbox's picture of Meta: businesses, WABAs, numbers, codes and tokens. Plain data, no I/O."""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
import string
from dataclasses import dataclass, field
from typing import Any, Literal

PROFILE_NAME = "Ana Souza"
# Our app's own business (the Tech Provider): the entry id of partner-level account_update webhooks
# (docs/meta.md#webhook-notifications).
PARTNER_BUSINESS_ID = "880000000000900"
REGISTRATION_WINDOW_SECONDS = 72 * 3600
REGISTRATION_LIMIT = 10
CODE_TTL_SECONDS = 30.0
# Verification codes (request_code → verify_code) are single-use and time-limited, "typically about
# 10 minutes" (docs/meta.md#number-verification). More than VERIFICATION_REQUESTS_LIMIT requests per number
# within the
# window answer Meta's 429 code 4 subcode 2446079 (docs/meta.md#number-verification).
VERIFICATION_CODE_TTL_SECONDS = 600.0
VERIFICATION_REQUESTS_LIMIT = 3
VERIFICATION_REQUESTS_WINDOW_SECONDS = 3600.0
# Coexistence syncs: once per type, within 24 h of onboarding (docs/meta.md#coexistence-syncs).
SMB_SYNC_WINDOW_SECONDS = 24 * 3600.0
# Numbers already on WhatsApp Business with someone else: adding one answers 409 code 100
# (docs/meta.md#number-verification).
NUMBERS_IN_USE_ELSEWHERE = frozenset({"5511977770000"})

# Seeded portfolios of today's Meta (docs/sandbox.md): names the auto paths pick them by.
HORIZONTE = "Imobiliária Horizonte Ltda"
LIMA = "Lima & Filhos Corretores"
PRISMA = "Rede Prisma Imóveis"  # two WABAs, both shared with the app
COSTA = "Costa Azul Corretora"  # one WABA with two numbers


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
    # Shared with our app before this signup: a token of the portfolio lists it too
    # (docs/meta.md#business-tokens-and-granular-scopes).
    shared_with_app: bool = False
    # False: the business token's reads of it answer a permission error (set_waba_readable).
    readable: bool = True


@dataclass
class Phone:
    id: str
    waba_id: str
    display_phone_number: str
    verified_name: str
    # Enums of Meta's OpenAPI description (PhoneNumberInfo): UNVERIFIED, not the NOT_VERIFIED/EXPIRED seen
    # in practice; the service treats anything but VERIFIED alike (docs/meta.md#embedded-signup-v4-endings).
    code_verification_status: str = "UNVERIFIED"
    quality_rating: str = "NA"
    platform_type: str = "NOT_APPLICABLE"
    throughput_level: str = "NOT_APPLICABLE"
    name_status: str = "AVAILABLE_WITHOUT_REVIEW"
    is_on_biz_app: bool = False
    status: str = "PENDING"
    account_mode: str = "LIVE"
    pin: str | None = field(default=None, repr=False)
    registrations: list[float] = field(default_factory=list)
    verification_code: str | None = field(default=None, repr=False)
    verification_code_at: float = 0.0
    verification_requests: list[float] = field(default_factory=list)
    onboarded_at: float | None = None  # coexistence: when the signup finished
    smb_syncs: dict[str, str] = field(default_factory=dict)  # sync_type → request_id

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


# Approved message templates every WABA of the sandbox has: (name, language) → body parameters it takes.
# ``hello_world``/``en_US`` is Meta's own test template (reference 2026 §5.1).
MESSAGE_TEMPLATES: dict[tuple[str, str], int] = {
    ("hello_world", "en_US"): 0,
    ("novo_imovel", "pt_BR"): 1,
    ("visita_confirmada", "pt_BR"): 2,
}
SERVICE_WINDOW_SECONDS = 24 * 3600.0
# Leads whose messages Meta accepts and then cannot deliver: a ``failed`` status with 131026.
UNDELIVERABLE_NUMBERS = frozenset({"5511900000000"})


@dataclass
class Conversation:
    """What passed between one of our numbers and one lead (``wa_id``): when the lead last wrote (opening the
    24 h service window) and every message the business sent to them, oldest first. Each sent item is
    ``{"id": wamid, "type", "text"?, "template"?, "context"?, "at", "status"}``; ``status`` follows the
    statuses webhooks the sandbox sends (accepted → sent → delivered → read, or failed). The simulated lead's
    page reads it to show the replies."""

    phone_id: str
    wa_id: str
    last_inbound_at: float | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    # what the lead wrote ({"id": wamid, "text", "at"}), for the simulated lead's page
    received: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Code:
    value: str = field(repr=False)
    app_id: str
    business_id: str
    waba_ids: list[str]
    created_at: float
    redirect_uri: str | None = None
    used: bool = False


TokenShape = Literal["june_2026", "legacy"]
TOKEN_SHAPES: tuple[TokenShape, ...] = ("june_2026", "legacy")


@dataclass
class Token:
    value: str = field(repr=False)
    app_id: str
    business_id: str
    waba_ids: list[str]  # in debug_token's target_ids order, which varies between tokens
    issued_at: int
    expires_at: int = 0
    revoked: bool = False
    user_id: str = ""
    shape: TokenShape = "june_2026"


class IdMaker:
    """Meta-looking numeric ids and opaque secrets; seeded ids keep screenshots and docs stable."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - ids of a fake, not secrets
        # Its own stream, so shuffling target_ids never moves the ids minted after it.
        self.shuffler = random.Random(None if seed is None else seed + 1)  # noqa: S311

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
    def verification_code() -> str:
        return f"{secrets.randbelow(10**6):06d}"

    @staticmethod
    def request_id() -> str:
        return "REQ-" + secrets.token_hex(8).upper()

    @staticmethod
    def bsuid(phone_digits: str) -> str:
        """A business-scoped user id, ``CC.`` plus digits (docs/meta.md#business-scoped-user-ids, 360dialog's
        format).
        """
        return "BR." + str(int.from_bytes(phone_digits.encode(), "big") % 10**16).zfill(16)

    @staticmethod
    def trace() -> str:
        return "A" + secrets.token_urlsafe(16)


class Media:
    """A file a lead sent: Meta keeps it for 30 days behind ``GET /{media_id}`` and a short-lived URL."""

    def __init__(self, id: str, phone_id: str, content: bytes, mime_type: str) -> None:
        self.id, self.phone_id, self.content, self.mime_type = id, phone_id, content, mime_type
        self.sha256 = base64.b64encode(hashlib.sha256(content).digest()).decode()


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
    conversations: dict[tuple[str, str], Conversation] = field(default_factory=dict)  # (phone_id, wa_id)
    media: dict[str, Media] = field(default_factory=dict)  # what leads sent, by Meta's media id

    def add_media(self, phone_id: str, content: bytes, mime_type: str) -> Media:
        media = Media(self.ids.id(16), phone_id, content, mime_type)
        self.media[media.id] = media
        return media

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

    def conversation(self, phone_id: str, wa_id: str) -> Conversation:
        """The conversation of a number with a lead, started empty on first use."""
        key = (phone_id, wa_id)
        if key not in self.conversations:
            self.conversations[key] = Conversation(phone_id, wa_id)
        return self.conversations[key]

    def business_named(self, name: str) -> Business:
        return next(b for b in self.businesses.values() if b.name == name)

    def wabas_of(self, business_id: str) -> list[Waba]:
        return [w for w in self.wabas.values() if w.owner_business_id == business_id]

    def phones_of(self, waba_id: str) -> list[Phone]:
        return [p for p in self.phones.values() if p.waba_id == waba_id]


def seeded_world(seed: int | None = 7) -> World:
    """One admin and four portfolios (docs/sandbox.md, "Seeded world").

    Horizonte: a WABA with a Cloud-ready number and a WhatsApp Business app number; Lima & Filhos: no WABA;
    Rede Prisma: two WABAs already shared with the app; Costa Azul: one WABA with two numbers.
    """
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
    # Added after the first ones so their seeded ids stay what docs and screenshots show.
    prisma = world.add_business(PRISMA)
    for name, display in (("Prisma Vendas", "+55 21 3030-1000"), ("Prisma Locação", "+55 21 3030-2000")):
        prisma_waba = world.add_waba(prisma.id, name)
        prisma_waba.shared_with_app = True
        world.add_phone(prisma_waba.id, display, name, code_verification_status="VERIFIED")
    costa = world.add_business(COSTA)
    costa_waba = world.add_waba(costa.id, "Costa Azul Imóveis")
    for display, name in (
        ("+55 48 3222-1000", "Costa Azul Vendas"),
        ("+55 48 99111-2000", "Costa Azul Plantão"),
    ):
        world.add_phone(costa_waba.id, display, name, code_verification_status="VERIFIED")
    return world
