"""Which WABA and which number a signup is about (ARCHITECTURE §14).

Meta's token names WABAs only as a hint: since June 2026 its granular scopes may carry
``whatsapp_business_manage_events`` instead of the classic WhatsApp scopes, and ``target_ids`` come in no
stable order (docs/meta.md; reference 2026 §1–§2). So access is proven by reading the WABA with the token,
candidates are a set (never ``target_ids[0]``), and when Meta's answer leaves more than one possibility the
admin chooses.
"""

from __future__ import annotations

from qualifica.meta.errors import MetaError
from qualifica.meta.models import PhoneNumber, TokenInfo, Waba
from qualifica.whatsapp.schemas import Choices, PhoneChoice, WabaChoice

# A read refused for lack of permission (docs/meta.md#business-tokens-and-granular-scopes): 10, the 200
# family, and 100/33 ("does not exist, or no permission"). Anything else is a failure of its own, not a WABA
# we were not given.
PERMISSION_CODE = 10
OBJECT_NOT_READABLE = (100, 33)
# ``code_verification_status`` of a number ES left unverified: it needs a code. Meta's OpenAPI (v23.0,
# ``PhoneNumber.code_verification_status``) says UNVERIFIED; Meta's v4 pages also name NOT_VERIFIED and
# EXPIRED (docs/meta.md#embedded-signup-v4-endings); all three mean the same to us.
UNVERIFIED = frozenset({"UNVERIFIED", "NOT_VERIFIED", "EXPIRED"})


def denies_access(error: MetaError) -> bool:
    if error.code is None:
        return False
    return (
        error.code == PERMISSION_CODE
        or 200 <= error.code <= 299
        or (error.code, error.subcode) == OBJECT_NOT_READABLE
    )


def waba_candidates(info: TokenInfo) -> list[str]:
    """The WABAs the token hints at, under any WhatsApp scope, portfolio ids excluded; sorted, so the order
    shown to the admin does not change with Meta's."""
    return sorted(info.waba_hints)


def pick_number(numbers: list[PhoneNumber], *, coexistence: bool) -> PhoneNumber | None:
    """The number the signup is about when the event named none: the only one (for a coexistence signup,
    the only WhatsApp Business app number); None when the admin must choose."""
    if coexistence:
        on_app = [number for number in numbers if number.is_on_biz_app]
        if len(on_app) == 1:
            return on_app[0]
    return numbers[0] if len(numbers) == 1 else None


def needs_verification(phone: PhoneNumber, *, verified_id: str | None) -> bool:
    """Meta says the number is not verified, and we have not just verified it ourselves."""
    if phone.is_on_biz_app or phone.id == verified_id:
        return False
    return phone.code_verification_status in UNVERIFIED


def waba_choices(wabas: list[Waba]) -> list[WabaChoice]:
    return [WabaChoice(id=waba.id, name=waba.name) for waba in wabas]


def phone_choices(numbers: list[PhoneNumber]) -> list[PhoneChoice]:
    return [phone_choice(number) for number in numbers]


def phone_choice(number: PhoneNumber) -> PhoneChoice:
    return PhoneChoice(
        id=number.id, display_phone_number=number.display_phone_number, verified_name=number.verified_name
    )


def number_choice(waba: Waba, numbers: list[PhoneNumber]) -> Choices:
    """The WABA is settled, its number is not: the WABA (so the page can post it back) and its numbers."""
    return Choices(wabas=waba_choices([waba]), phone_numbers=phone_choices(numbers))


def is_offered(choices: Choices, waba_id: str, phone_number_id: str | None) -> bool:
    """The admin's pick is among what we offered (a number is required when numbers were offered)."""
    if waba_id not in {waba.id for waba in choices.wabas}:
        return False
    numbers = {number.id for number in choices.phone_numbers}
    if phone_number_id is None:
        return not numbers
    return phone_number_id in numbers
