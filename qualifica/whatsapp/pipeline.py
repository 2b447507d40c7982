"""The callback pipeline: exchange → (resolve ‖ phone ‖ waba ‖ subscribe) → register → save.

Three round trips to Meta on the critical path (two without registration). Each step's result is
persisted before the next starts — the token sealed the moment it arrives — so a crash, a timeout or a
restart resumes from the step reached. The code is the exception: only the first runner, in the callback
request, holds it (in memory, never stored), and only it may spend it. A resumed attempt without a token
cannot know whether Meta already spent the code, and Meta's code lives 30 seconds anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from qualifica.db import utcnow
from qualifica.errors import AppError
from qualifica.jobs.leases import LeaseLost
from qualifica.logging import get_logger
from qualifica.meta.client import GraphClient
from qualifica.meta.errors import MetaError
from qualifica.meta.models import PhoneNumber, TokenInfo, Waba
from qualifica.observability import signup_metrics
from qualifica.runtime import Runtime
from qualifica.security.crypto import seal, unseal
from qualifica.whatsapp import attempts, lifecycle, ownership
from qualifica.whatsapp.attempts import RETRY, Attempt
from qualifica.whatsapp.candidates import (
    denies_access,
    needs_verification,
    number_choice,
    pick_number,
    waba_candidates,
    waba_choices,
)
from qualifica.whatsapp.catalogue import TRANSIENT, analytics_code, explain_meta
from qualifica.whatsapp.coexistence import request_due_syncs
from qualifica.whatsapp.errors import (
    MetaFailure,
    SessionExpired,
    WabaInUse,
    WabaNotGranted,
    meta_error_sentence,
)
from qualifica.whatsapp.outcomes import (
    AttemptOutcome,
    Saved,
    StepFailure,
    complete,
    fail,
    postpone,
    require_pin,
    wait_for_admin,
)
from qualifica.whatsapp.schemas import Choices, Pending
from qualifica.whatsapp.steps import PipelineStep, Progress

log = get_logger(__name__)

COEXISTENCE = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"
STEP_SECONDS = 20.0  # budget for one round of Meta calls; well inside the 30 s lease
# A rate limit without Meta's estimate is waited out this long (ARCHITECTURE §14).
RATE_LIMIT_WAIT = timedelta(seconds=60)
# The reads that prove the token may use the WABA (its fields and its numbers).
# The reads that prove access (§14); debug_token is the app's question about the token, not one of them.
READS = frozenset({"waba", "phone"})


class PinRequired(Exception):
    pass


class WaitForAdmin(Exception):
    """The signup needs the admin: a choice of WABA or number, the number's code, or a number at all."""

    def __init__(self, status: Pending, step_results: dict[str, Any], choices: Choices | None = None) -> None:
        self.status = status
        self.step_results = step_results
        self.choices = choices
        super().__init__(status)


class RateLimited(Exception):
    """Meta throttles us: stay away ``retry_after`` seconds (or ``RATE_LIMIT_WAIT``), then go on."""

    def __init__(self, step: PipelineStep, retry_after: float | None) -> None:
        self.step = step
        self.retry_after = retry_after
        super().__init__(step)


class Postpone(Exception):
    """Meta stayed unavailable past this run's budget; a worker tries again later (we hold the token)."""

    def __init__(self, step: PipelineStep) -> None:
        self.step = step
        super().__init__(step)


def meta_failure(step: PipelineStep, error: MetaError) -> StepFailure:
    explanation = explain_meta(error)
    if error.is_code_expired or error.is_code_used or error.is_invalid_token:
        app_error: AppError = SessionExpired(hint=explanation.hint)
    else:
        app_error = MetaFailure(meta_error_sentence(error.safe_message), hint=explanation.hint)
    return StepFailure(step, app_error, analytics_code=analytics_code(error))


def _expiry(expires_at: int | None, expires_in: int | None = None) -> datetime | None:
    if expires_at:
        return datetime.fromtimestamp(expires_at, UTC)
    if expires_in:
        return utcnow() + timedelta(seconds=expires_in)
    return None


@dataclass(frozen=True)
class CallbackCode:
    """Meta's single-use code, as the callback received it: held in memory by the first run only."""

    value: str = field(repr=False)
    received_at: float  # monotonic, when the callback arrived: Meta's 30 s count from it


@dataclass
class Run:
    runtime: Runtime
    attempt: Attempt
    code: CallbackCode | None  # None for a resumed run, which may never exchange
    holder: str  # this run's claim (the lease token every write names)
    lookups: dict[str, Any] = field(default_factory=dict)
    saving: asyncio.Task[None] | None = None  # the token's write, running beside the lookups

    @property
    def graph(self) -> GraphClient:
        return self.runtime.graph

    async def persist(self, **values: Any) -> None:
        await self.saved()
        await self._write(self.stamped(values))

    def stamped(self, values: dict[str, Any]) -> dict[str, Any]:
        """A marker's write carries its moment too (``step_times``), for the staff timeline."""
        if "step" not in values:
            return values
        moment = {"step": str(values["step"]), "at": utcnow().isoformat()}
        return values | {"step_times": [*(self.attempt.step_times or []), moment]}

    async def _write(self, values: dict[str, Any]) -> None:
        await attempts.write(self.runtime, self.attempt.id, holder=self.holder, **values)
        for name, value in values.items():
            setattr(self.attempt, name, value)

    async def saved(self) -> None:
        """Wait for the token's write (``LeaseLost`` if it found another runner holding the attempt)."""
        if self.saving is not None:
            saving, self.saving = self.saving, None
            await saving

    async def exchange(self) -> str:
        if self.attempt.access_token:
            return unseal(self.runtime.ring, self.attempt, "access_token") or ""
        if self.code is None:
            # Only the first run had the code, and it may have spent it at Meta; the admin starts again.
            raise StepFailure(PipelineStep.TOKEN_EXCHANGE, SessionExpired(), analytics_code="session_expired")
        try:
            result = await self.graph.exchange_code(
                self.code.value,
                redirect_uri=self.attempt.redirect_uri,
                deadline=time.monotonic() + STEP_SECONDS,
                code_received_at=self.code.received_at,
            )
        except MetaError as error:
            raise meta_failure(PipelineStep.TOKEN_EXCHANGE, error) from None
        # On the callback's critical path the sealed token's write (a few ms) runs beside the lookups, not
        # before them: they only read (and subscribe, which is idempotent); every later write and every
        # ending waits for it first (``saved``), and it is guarded by the lease like any other write.
        values = self.stamped(
            {
                "step": Progress.TOKEN_EXCHANGED,
                "access_token": seal(self.runtime.ring, self.attempt, "access_token", result.access_token),
                "token_expires_at": _expiry(None, result.expires_in),
            }
        )
        for name, value in values.items():  # this run reads its own copy at once
            setattr(self.attempt, name, value)
        self.saving = asyncio.create_task(
            attempts.write(self.runtime, self.attempt.id, holder=self.holder, **values)
        )
        return result.access_token

    async def look_up(self, token: str) -> tuple[TokenInfo, PhoneNumber, Waba]:
        """Every call whose inputs are known runs at once; debug_token goes first only without a WABA id."""
        try:
            return await self._look_up(token)
        finally:
            await self.saved()  # whatever the lookups gave, the token is stored (or the lease is lost)

    async def _look_up(self, token: str) -> tuple[TokenInfo, PhoneNumber, Waba]:
        done: dict[str, Any] = dict(self.attempt.step_results or {})
        deadline = time.monotonic() + STEP_SECONDS
        waba_id = self.attempt.waba_id
        if waba_id is None:
            if "token" not in done:
                done["token"] = await self._call(PipelineStep.WABA_LOOKUP, self._resolve(token, deadline))
            info = TokenInfo.model_validate(done["token"])
            if not info.is_valid:
                raise StepFailure(PipelineStep.WABA_LOOKUP, SessionExpired(), analytics_code="190")
            waba_id = await self._pick_waba(info, token, deadline, done)
            await self.persist(step_results=done, waba_id=waba_id)
        calls: dict[str, tuple[PipelineStep, Callable[[], Awaitable[Any]]]] = {
            "token": (PipelineStep.WABA_LOOKUP, lambda: self._resolve(token, deadline)),
            "phone": (PipelineStep.PHONE_LOOKUP, lambda: self._phone(waba_id, token, deadline)),
            "waba": (PipelineStep.WABA_LOOKUP, lambda: self._waba(waba_id, token, deadline)),
            "subscribed": (
                PipelineStep.WEBHOOK_SUBSCRIPTION,
                lambda: self._subscribe(waba_id, token, deadline),
            ),
        }
        pending = {name: call for name, call in calls.items() if name not in done}
        results = await asyncio.gather(*(call() for _, call in pending.values()), return_exceptions=True)
        failures: list[tuple[str, PipelineStep, BaseException]] = []
        for (name, (step, _)), result in zip(pending.items(), results, strict=True):
            if isinstance(result, BaseException):
                failures.append((name, step, result))
            else:
                done[name] = result
        if failures:  # keep what succeeded for the next run; success is saved with the next step
            await self.persist(step_results=done)
        self.lookups = done
        if "token" in done and not TokenInfo.model_validate(done["token"]).is_valid:
            raise StepFailure(PipelineStep.WABA_LOOKUP, SessionExpired(), analytics_code="190")
        # Access is proven by use (ARCHITECTURE §14): the token's scopes are a hint only, and the WABA is
        # not ours only when Meta refuses to let the token read it or its numbers.
        for name, _, error in failures:
            if name in READS and isinstance(error, MetaError) and denies_access(error):
                raise StepFailure(
                    PipelineStep.WABA_LOOKUP, WabaNotGranted(), analytics_code="waba_not_granted"
                )
        for _, step, error in failures:
            self._raise(step, error)
        info = TokenInfo.model_validate(done["token"])
        waba = Waba.model_validate(done["waba"])
        phone = self._settled_phone(waba, done)
        if self.attempt.token_expires_at is None and info.expires_at:
            await self.persist(token_expires_at=_expiry(info.expires_at))
        return info, phone, waba

    async def _pick_waba(self, info: TokenInfo, token: str, deadline: float, done: dict[str, Any]) -> str:
        """No session event: the token's WhatsApp scopes name the candidates; one is used, several are
        read (a WABA the token cannot read is no candidate) and offered to the admin."""
        candidates = waba_candidates(info)
        if len(candidates) == 1:
            return candidates[0]
        results = await asyncio.gather(
            *(self.graph.get_waba(waba_id, token=token, deadline=deadline) for waba_id in candidates),
            return_exceptions=True,
        )
        readable: list[Waba] = []
        for result in results:
            if isinstance(result, Waba):
                readable.append(result)
            elif not (isinstance(result, MetaError) and denies_access(result)):
                self._raise(PipelineStep.WABA_LOOKUP, result)
        if not readable:
            raise StepFailure(PipelineStep.WABA_LOOKUP, WabaNotGranted(), analytics_code="waba_not_granted")
        if len(readable) == 1:
            done["waba"] = readable[0].model_dump(mode="json")
            return readable[0].id
        raise WaitForAdmin("choice_required", done, Choices(wabas=waba_choices(readable)))

    def _settled_phone(self, waba: Waba, done: dict[str, Any]) -> PhoneNumber:
        """The number the connection will use, or the reason the admin must act first."""
        found = done["phone"]
        if found is None:  # ES v4 may finish without a number (reference 2026 §3.4)
            raise WaitForAdmin("number_required", done)
        if "numbers" in found:
            numbers = [PhoneNumber.model_validate(number) for number in found["numbers"]]
            raise WaitForAdmin("choice_required", done, number_choice(waba, numbers))
        phone = PhoneNumber.model_validate(found)
        coexistence = self.attempt.event == COEXISTENCE
        if not coexistence and needs_verification(phone, verified_id=done.get("verified")):
            raise WaitForAdmin("verification_required", done)
        return phone

    async def _resolve(self, token: str, deadline: float) -> dict[str, Any]:
        info: TokenInfo = await self.graph.debug_token(token, deadline=deadline)
        return info.model_dump(mode="json")

    async def _phone(self, waba_id: str, token: str, deadline: float) -> dict[str, Any] | None:
        """The number's fields; ``{"numbers": [...]}`` when the WABA has several and none was named;
        None when it has none."""
        if self.attempt.phone_number_id:
            phone = await self.graph.get_phone_number(
                self.attempt.phone_number_id, token=token, deadline=deadline
            )
            return dict(phone.model_dump(mode="json"))
        numbers: list[PhoneNumber] = await self.graph.list_phone_numbers(
            waba_id, token=token, deadline=deadline
        )
        if not numbers:
            return None
        picked = pick_number(numbers, coexistence=self.attempt.event == COEXISTENCE)
        if picked is None:
            return {"numbers": [number.model_dump(mode="json") for number in numbers]}
        return dict(picked.model_dump(mode="json"))

    async def _waba(self, waba_id: str, token: str, deadline: float) -> dict[str, Any]:
        waba: Waba = await self.graph.get_waba(waba_id, token=token, deadline=deadline)
        return waba.model_dump(mode="json")

    async def _subscribe(self, waba_id: str, token: str, deadline: float) -> bool:
        await self.graph.subscribe_app(waba_id, token=token, deadline=deadline)
        return True

    async def _call(self, step: PipelineStep, coroutine: Awaitable[Any]) -> Any:
        try:
            return await coroutine
        except MetaError as error:
            self._raise(step, error)

    @staticmethod
    def _raise(step: PipelineStep, error: BaseException) -> NoReturn:
        if isinstance(error, MetaError):
            if error.is_rate_limit:
                raise RateLimited(step, error.retry_after) from None
            if error.transient:
                raise Postpone(step) from None
            raise meta_failure(step, error) from None
        raise error

    async def register(self, token: str, phone: PhoneNumber) -> tuple[str | None, bool]:
        """Register a new number with a PIN we generate; returns (PIN, has_existing_number)."""
        if self.attempt.event == COEXISTENCE or not phone.needs_registration:
            return None, True
        pin = unseal(self.runtime.ring, self.attempt, "registration_pin")
        if pin:  # sealed with the REGISTERING marker (which a rate-limit wait may have replaced)
            # Resumed mid-registration: ask Meta whether it went through instead of registering twice.
            deadline = time.monotonic() + STEP_SECONDS
            current = await self._call(
                PipelineStep.REGISTRATION,
                self.graph.get_phone_number(phone.id, token=token, deadline=deadline),
            )
            if not current.needs_registration:
                return pin, False
        # One write before Meta's register: the lookups, the PIN (Meta keeps it as the number's 2FA PIN) and
        # the marker that tells a resumed run to ask Meta first.
        values: dict[str, Any] = {"step": Progress.REGISTERING, "step_results": self.lookups}
        if pin is None:
            pin = f"{secrets.randbelow(1_000_000):06d}"
            values["registration_pin"] = seal(self.runtime.ring, self.attempt, "registration_pin", pin)
        await self.persist(**values)
        try:
            await self.graph.register_phone(
                phone.id, pin, token=token, deadline=time.monotonic() + STEP_SECONDS
            )
        except MetaError as error:
            if error.is_pin_mismatch:
                raise PinRequired from None
            self._raise(PipelineStep.REGISTRATION, error)
        return pin, False


async def run_attempt(
    runtime: Runtime,
    attempt_id: uuid.UUID,
    *,
    holder: str,
    code: CallbackCode | None = None,
    claimed: Attempt | None = None,
) -> AttemptOutcome | None:
    """Drive an attempt (whose lease the claim ``holder`` holds) to its end; None when postponed or lost.

    ``code`` is given to the callback's own run only. ``claimed`` is the attempt as the callback just
    claimed it, saving a read on the critical path. Whatever goes wrong, the attempt ends: an unexpected
    error fails it (``internal_error``, token wiped) instead of leaving it ``processing``.
    """
    attempt = claimed if claimed is not None else await attempts.load(runtime, attempt_id)
    run = Run(runtime, attempt, code, holder)
    try:
        if code is None and attempt.resume_count > RETRY.max_attempts:
            signup_metrics.unprocessed()  # resumed too often (a crash loop): give up
            log.warning("signup_resumes_exhausted", attempt_id=str(attempt_id))
            return await lifecycle.fail_internal(runtime, attempt, holder=holder)
        return await _drive(run)
    except LeaseLost:
        log.warning("signup_lease_lost", attempt_id=str(attempt_id))
        return await lifecycle.answer_after_lease_lost(runtime, attempt_id)
    except Exception as error:  # every exit ends the attempt; the type is logged, never the text
        log.error("signup_internal_error", attempt_id=str(attempt_id), error_type=type(error).__name__)
        await _settle(run)
        return await lifecycle.fail_internal(runtime, run.attempt, holder=holder)


async def _settle(run: Run) -> None:
    """Let the token's write finish (or fail) before the ending wipes it."""
    with contextlib.suppress(Exception):  # the ending that follows is what matters
        await run.saved()


async def _drive(run: Run) -> AttemptOutcome | None:
    runtime, attempt_id, holder = run.runtime, run.attempt.id, run.holder
    try:
        token = await run.exchange()
        _, phone, waba = await run.look_up(token)
        await ownership.ensure_free(runtime, run.attempt, waba.id, phone.id)
        pin, has_existing_number = await run.register(token, phone)
        coexistence = run.attempt.event == COEXISTENCE or bool(phone.is_on_biz_app)
        saved = Saved(token, run.attempt.token_expires_at, pin, phone, waba, has_existing_number, coexistence)
        outcome = await complete(runtime, attempt_id, saved, holder=holder, attempt=run.attempt)
        if coexistence:  # right after onboarding, within Meta's 24 h (the worker's job is the backstop)
            runtime.keep(asyncio.create_task(request_due_syncs(runtime)))
        return outcome
    except StepFailure as failure:
        log.info(
            "signup_failed", attempt_id=str(attempt_id), step=failure.step, error_code=failure.analytics_code
        )
        return await fail(runtime, attempt_id, failure, holder=holder)
    except ownership.InUse:
        log.info("signup_failed", attempt_id=str(attempt_id), error_code=WabaInUse.code)
        return await fail(runtime, attempt_id, waba_in_use(), holder=holder)
    except ownership.Superseded:
        return await lifecycle.end_superseded(runtime, attempt_id, holder=holder)
    except PinRequired:
        return await require_pin(runtime, attempt_id, holder=holder)
    except WaitForAdmin as waiting:
        log.info("signup_waiting", attempt_id=str(attempt_id), status=waiting.status)
        return await wait_for_admin(
            runtime,
            attempt_id,
            waiting.status,
            holder=holder,
            choices=waiting.choices,
            step_results=waiting.step_results,
        )
    except RateLimited as limited:
        wait = timedelta(seconds=limited.retry_after) if limited.retry_after else RATE_LIMIT_WAIT
        later = Later(limited.step, "signup_rate_limited", "a Meta limitou as requisições", "rate_limited")
        return await _later(runtime, attempt_id, holder, later, wait=wait, marker=Progress.RATE_LIMITED)
    except Postpone as postponed:
        later = Later(postponed.step, "signup_postponed", "a Meta não respondeu", TRANSIENT.code)
        return await _later(runtime, attempt_id, holder, later)


@dataclass(frozen=True)
class Later:
    """A run Meta asked to come back to later: where, what to log, and what to say if no try is left."""

    step: PipelineStep
    log_event: str
    cause: str  # pt-BR, completes "…" in the failure sentence
    analytics_code: str


async def _later(
    runtime: Runtime,
    attempt_id: uuid.UUID,
    holder: str,
    later: Later,
    *,
    wait: timedelta | None = None,
    marker: str | None = None,
) -> AttemptOutcome | None:
    """Postpone the attempt (None: the worker resumes it), or fail it once its tries are spent."""
    if await postpone(runtime, attempt_id, holder=holder, wait=wait, step=marker):
        log.info(later.log_event, attempt_id=str(attempt_id), step=later.step)
        return None
    signup_metrics.unprocessed()
    error = MetaFailure(meta_error_sentence(later.cause), hint=TRANSIENT.hint)
    failure = StepFailure(later.step, error, analytics_code=later.analytics_code)
    return await fail(runtime, attempt_id, failure, holder=holder)


def waba_in_use() -> StepFailure:
    return StepFailure(PipelineStep.WABA_LOOKUP, WabaInUse(), analytics_code=WabaInUse.code)
