"""ES v4 endings without a usable number (ARCHITECTURE §14): verify it, or add one first.

A v4 signup may finish with a number Meta has not verified, or with none (reference 2026 §3, §7). The
attempt then waits (``verification_required`` / ``number_required``) with its token sealed; the admin asks
Meta for a code by SMS or voice (``request_code``, pt_BR), types it (``verify_code``), and the pipeline goes
on to register the number as usual. A WABA without a number gets one first
(``POST /{waba_id}/phone_numbers``).
Each step holds the attempt's lease only while it talks to Meta, so two tabs never step on each other.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select, update

from qualifica.accounts.models import User
from qualifica.db import utcnow
from qualifica.errors import AppError
from qualifica.jobs.leases import compare_and_set, database_now, lease_free, new_holder
from qualifica.meta.errors import MetaError
from qualifica.runtime import Runtime
from qualifica.security.crypto import unseal
from qualifica.whatsapp import attempts
from qualifica.whatsapp.attempts import LEASE, Attempt
from qualifica.whatsapp.catalogue import explain_verification
from qualifica.whatsapp.errors import (
    InvalidCode,
    InvalidNumber,
    MetaFailure,
    NoNumberRequired,
    NoVerificationRequired,
    RateLimited,
    SessionExpired,
    VerificationFailed,
    meta_error_sentence,
)
from qualifica.whatsapp.models import AttemptStatus
from qualifica.whatsapp.outcomes import AttemptOutcome
from qualifica.whatsapp.schemas import NumberRequest, PhoneChoice, VerificationAnswer
from qualifica.whatsapp.signup import run_within
from qualifica.whatsapp.steps import Progress

CALL_SECONDS = 15.0
CODE = re.compile(r"^[0-9]{6}$")
COUNTRY_CODE = re.compile(r"^[1-9][0-9]{0,2}$")
NUMBER = re.compile(r"^[0-9]{4,14}$")
NUMBER_SEPARATORS = re.compile(r"[\s().-]")
METHODS = {"sms": "SMS", "voice": "VOICE"}
# The catalogue's reading of a refusal → the answer's status (what the admin can do about it).
STATUS_OF = {
    "verification_code_invalid": 422,
    "number_not_eligible": 422,
    "invalid_parameter": 422,
    "verification_code_limit": 429,
    "rate_limited": 429,
    "number_in_use": 409,
    "number_rejected": 422,
    "phone_number_limit": 409,
}


@asynccontextmanager
async def _holding(
    runtime: Runtime, user: User, status: AttemptStatus, missing: type[AppError]
) -> AsyncIterator[Attempt]:
    """The organization's attempt waiting in ``status``, leased for the block (``attempt.lease_owner`` is
    the claim), released after it (unless the block handed the lease to the pipeline by moving it on)."""
    holder = new_holder(runtime.owner)
    async with runtime.sessionmaker() as session, session.begin():
        attempt = await session.scalar(
            select(Attempt)
            .where(Attempt.organization_id == user.organization_id, Attempt.status == status)
            .order_by(Attempt.created_at.desc())
            .limit(1)
        )
        taken = attempt is not None and await compare_and_set(
            session,
            update(Attempt)
            .where(Attempt.id == attempt.id, Attempt.status == status, lease_free(Attempt.lease_expires_at))
            .values(lease_owner=holder, lease_expires_at=database_now(LEASE)),
        )
    if attempt is None or not taken:
        raise missing  # none waits, or another request holds it right now
    try:
        yield await attempts.load(runtime, attempt.id)
    finally:
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(Attempt)
                .where(
                    Attempt.id == attempt.id,
                    Attempt.lease_owner == holder,
                    Attempt.status != AttemptStatus.PROCESSING,  # the pipeline's now: it keeps the lease
                )
                .values(lease_owner=None, lease_expires_at=None)
            )


def refusal(error: MetaError, call: str) -> AppError:
    """Meta's refusal of a verification step, as the admin reads it (catalogue code, pt-BR hint)."""
    explanation = explain_verification(error, call)
    if error.is_invalid_token:
        return SessionExpired(hint=explanation.hint)
    headers = {"Retry-After": str(int(error.retry_after or 60))} if error.is_rate_limit else None
    if explanation.code == "rate_limited":
        return RateLimited(hint=explanation.hint, headers=headers)
    status = STATUS_OF.get(explanation.code)
    if status is None:
        return MetaFailure(meta_error_sentence(error.safe_message), hint=explanation.hint)
    failure = VerificationFailed(explanation.hint, status=status, headers=headers)
    failure.code = explanation.code  # type: ignore[misc]  # the catalogue's stable code
    return failure


def _holder(attempt: Attempt) -> str:
    return attempt.lease_owner or ""


def _token(runtime: Runtime, attempt: Attempt) -> str:
    token = unseal(runtime.ring, attempt, "access_token")
    if not token:
        raise SessionExpired
    return token


def _waiting_number(attempt: Attempt) -> PhoneChoice:
    phone = (attempt.step_results or {}).get("phone") or {}
    return PhoneChoice.model_validate(phone if "id" in phone else {"id": attempt.phone_number_id or ""})


async def request_code(runtime: Runtime, *, user: User, method: str) -> VerificationAnswer:
    """Ask Meta to send the number's code by SMS or voice, in Portuguese."""
    async with _holding(
        runtime, user, AttemptStatus.VERIFICATION_REQUIRED, NoVerificationRequired
    ) as attempt:
        number = _waiting_number(attempt)
        try:
            await runtime.graph.request_code(
                number.id,
                token=_token(runtime, attempt),
                method=METHODS[method],  # type: ignore[arg-type]
                language="pt_BR",
                deadline=time.monotonic() + CALL_SECONDS,
            )
        except MetaError as error:
            raise refusal(error, "request_code") from None
        results = dict(attempt.step_results or {})
        results["code_requested"] = {"method": method, "at": utcnow().isoformat()}
        await attempts.write(runtime, attempt.id, holder=_holder(attempt), step_results=results)
    return VerificationAnswer(phone_number=number, method=method)


async def verify(runtime: Runtime, *, user: User, code: str, received_at: float) -> AttemptOutcome:
    """Prove the number with its code, then let the pipeline register it and save the connection."""
    if not CODE.fullmatch(code):
        raise InvalidCode
    async with _holding(
        runtime, user, AttemptStatus.VERIFICATION_REQUIRED, NoVerificationRequired
    ) as attempt:
        number = _waiting_number(attempt)
        try:
            await runtime.graph.verify_code(
                number.id, token=_token(runtime, attempt), code=code, deadline=time.monotonic() + CALL_SECONDS
            )
        except MetaError as error:
            raise refusal(error, "verify_code") from None
        results: dict[str, Any] = dict(attempt.step_results or {})
        results.pop("phone", None)  # read again from Meta, now verified
        results["verified"] = number.id
        await attempts.write(
            runtime,
            attempt.id,
            holder=_holder(attempt),
            status=AttemptStatus.PROCESSING,
            state_consumed_at=utcnow(),  # the 15 minutes a run may take (§12) count from here
            step=Progress.TOKEN_EXCHANGED,
            phone_number_id=number.id,
            step_results=results,
            response=None,
        )
    attempt = await attempts.load(runtime, attempt.id)
    return await run_within(runtime, attempt, received_at + runtime.settings.callback_deadline_seconds)


def _parse_number(body: NumberRequest) -> tuple[str, str, str]:
    country_code = body.country_code.strip().lstrip("+")
    number = NUMBER_SEPARATORS.sub("", body.phone_number)
    name = " ".join(body.verified_name.split())
    if not COUNTRY_CODE.fullmatch(country_code) or not NUMBER.fullmatch(number) or not 2 <= len(name) <= 75:
        raise InvalidNumber
    return country_code, number, name


async def add_number(runtime: Runtime, *, user: User, body: NumberRequest) -> VerificationAnswer:
    """Create the number on the WABA; it then waits for its code like any unverified number."""
    country_code, number, name = _parse_number(body)
    async with _holding(runtime, user, AttemptStatus.NUMBER_REQUIRED, NoNumberRequired) as attempt:
        if attempt.waba_id is None:
            raise NoNumberRequired
        try:
            phone_id = await runtime.graph.add_phone_number(
                attempt.waba_id,
                token=_token(runtime, attempt),
                cc=country_code,
                phone_number=number,
                verified_name=name,
                deadline=time.monotonic() + CALL_SECONDS,
            )
        except MetaError as error:
            raise refusal(error, "add_phone_number") from None
        added = PhoneChoice(id=phone_id, display_phone_number=f"+{country_code} {number}", verified_name=name)
        results = dict(attempt.step_results or {})
        results["phone"] = {**added.model_dump(), "code_verification_status": "NOT_VERIFIED"}
        await attempts.write(
            runtime,
            attempt.id,
            holder=_holder(attempt),
            status=AttemptStatus.VERIFICATION_REQUIRED,
            phone_number_id=phone_id,
            step_results=results,
        )
    return VerificationAnswer(phone_number=added)
