"""The organization's profile (ARCHITECTURE §17): its checks, its update, and Meta's prefill built from it.

Meta's Embedded Signup takes ``extras.setup.business {name, email, phone {code, number}, website, address
{streetAddress1, streetAddress2, city, state, zipPostal, country}, timezone}`` (docs/meta.md, reference
"Prefill"). Only what the organization filled in is sent: a missing field is left for the admin to type in
Meta's form, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.accounts.models import Organization
from qualifica.accounts.service import looks_like_email
from qualifica.audit import record
from qualifica.errors import AppError

# field → (max length, its pt-BR label on the page)
FIELDS: dict[str, tuple[int, str]] = {
    "name": (200, "Nome da imobiliária"),
    "email": (320, "E-mail"),
    "phone": (20, "Telefone com código do país"),
    "website": (300, "Site"),
    "street_address1": (200, "Endereço"),
    "street_address2": (200, "Complemento"),
    "city": (100, "Cidade"),
    "state": (100, "Estado"),
    "zip_postal": (20, "CEP"),
    "country": (2, "País (sigla, ex.: BR)"),
    "time_zone": (64, "Fuso horário"),
}
_PHONE = re.compile(r"^\+[1-9]\d{7,14}$")
# Country calling codes: 1 and 7 have one digit, these two, the others three (ITU E.164 assignments).
_TWO_DIGIT_CODES = {
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
    "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
}  # fmt: skip


def _website_ok(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and "." in (parts.hostname or "")


# field → (normalise, accept, the pt-BR problem when not accepted)
_RULES: dict[str, tuple[Any, Any, str]] = {
    "email": (
        str.lower,
        looks_like_email,
        "Informe um e-mail válido, como contato@imobiliaria.com.br.",
    ),
    "phone": (
        lambda v: ("+" if v.startswith("+") else "") + re.sub(r"\D", "", v),
        lambda v: bool(_PHONE.match(v)),
        "Informe o telefone com + e o código do país, como +55 11 98765-4321.",
    ),
    "website": (str.strip, _website_ok, "Informe o endereço completo do site, começando com https://."),
    "country": (str.upper, lambda v: bool(re.fullmatch(r"[A-Z]{2}", v)), "Use a sigla do país, como BR."),
    "time_zone": (str.strip, lambda v: v in available_timezones(), "Escolha um fuso horário da lista."),
}


class InvalidProfile(AppError):
    code, status = "invalid_profile", 422
    message = "Confira os campos destacados."

    def __init__(self, problems: dict[str, str] | None = None) -> None:
        problems = problems or {"email": "Informe um e-mail válido, como contato@imobiliaria.com.br."}
        fields = [{"field": field, "reason": reason} for field, reason in problems.items()]
        super().__init__(extra={"fields": fields})
        self.problems = problems


@dataclass(frozen=True)
class Checked:
    values: dict[str, str | None]  # only the fields sent; None clears one


def _clean(field: str, raw: str) -> tuple[str | None, str | None]:
    """The stored value (None clears) and, if it is wrong, the pt-BR problem."""
    value = raw.strip()
    if not value:
        return None, ("Informe o nome da imobiliária." if field == "name" else None)
    limit, _ = FIELDS[field]
    if len(value) > limit:
        return None, f"Use no máximo {limit} caracteres."
    if field not in _RULES:
        return value, None
    normalise, accept, problem = _RULES[field]
    value = normalise(value)
    return value, None if accept(value) else problem


def check(changes: dict[str, str | None]) -> Checked:
    """Validate the fields sent (unknown ones refused); every problem at once, by field."""
    values: dict[str, str | None] = {}
    problems: dict[str, str] = {}
    for field, raw in changes.items():
        if field not in FIELDS:
            problems[field] = "Campo desconhecido."
            continue
        value, problem = _clean(field, raw or "")
        if problem:
            problems[field] = problem
        values[field] = value
    if problems:
        raise InvalidProfile(problems)
    return Checked(values)


async def update(
    session: AsyncSession, organization: Organization, checked: Checked, *, actor_user_id: Any
) -> list[str]:
    """Apply the checked fields; returns the names that changed (audited, values never in the log)."""
    changed = [field for field, value in checked.values.items() if getattr(organization, field) != value]
    for field in changed:
        setattr(organization, field, checked.values[field])
    if changed:
        await session.flush()
        await record(
            session,
            organization_id=organization.id,
            action="organization.profile_updated",
            status="success",
            actor_user_id=actor_user_id,
            details={"fields": changed},
        )
    return changed


def _split_phone(phone: str) -> tuple[int, str]:
    digits = phone.lstrip("+")
    size = 1 if digits[0] in "17" else 2 if digits[:2] in _TWO_DIGIT_CODES else 3
    return int(digits[:size]), digits[size:]


def _utc_offset(name: str, now: datetime) -> str | None:
    try:
        offset = now.astimezone(ZoneInfo(name)).utcoffset()
    except ZoneInfoNotFoundError:
        return None
    if offset is None:
        return None
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def business_prefill(organization: Organization, now: datetime) -> dict[str, Any] | None:
    """Meta's ``setup.business`` from what the organization filled in; None when there is nothing to send
    beyond the name (the name alone is what the admin types first anyway, and is always ours)."""
    business: dict[str, Any] = {"name": organization.name}
    if organization.email:
        business["email"] = organization.email
    if organization.phone:
        code, number = _split_phone(organization.phone)
        business["phone"] = {"code": code, "number": number}
    if organization.website:
        business["website"] = organization.website
    address = {
        key: value
        for key, value in (
            ("streetAddress1", organization.street_address1),
            ("streetAddress2", organization.street_address2),
            ("city", organization.city),
            ("state", organization.state),
            ("zipPostal", organization.zip_postal),
            ("country", organization.country),
        )
        if value
    }
    if address:
        business["address"] = address
    if organization.time_zone and (offset := _utc_offset(organization.time_zone, now)):
        business["timezone"] = offset
    return business if len(business) > 1 else None


# The time zones of Brazil (IANA), the list the profile page offers; Meta gets the offset (UTC-03:00).
BRAZIL_TIME_ZONES = (
    "America/Sao_Paulo", "America/Bahia", "America/Fortaleza", "America/Recife", "America/Maceio",
    "America/Belem", "America/Araguaina", "America/Santarem", "America/Manaus", "America/Cuiaba",
    "America/Campo_Grande", "America/Porto_Velho", "America/Boa_Vista", "America/Rio_Branco",
    "America/Noronha",
)  # fmt: skip


def time_zone_choices(current: str | None) -> list[str]:
    """Brazil's zones, and the stored one if it is elsewhere (an agency abroad keeps what it set)."""
    return [*BRAZIL_TIME_ZONES, *([current] if current and current not in BRAZIL_TIME_ZONES else [])]
