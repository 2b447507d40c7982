"""Every name a signup step goes by (ARCHITECTURE §7 and §10 fix the values), with the page's words for it.

- ``Progress``: ``embedded_signup_attempts.step`` and the status endpoint's ``step``, the marker the pipeline
  persists before the work it names; its text is what the page says while that work runs.
- ``PageStage``: what the page says before the server has a marker (the script's own stages).
- ``PipelineStep``: our steps as ``step_failed`` and the failure metric's ``step`` label report them.
- ``PopupStep`` and ``popup_step``: the steps of Meta's popup, as cancellations and popup errors report them.

The page hands ``Progress`` and ``PageStage`` texts to ``static/whatsapp.js`` (``data-step-texts``), so
the script holds none of its own.

Adding a pipeline step (four files, in this order):

1. here: its ``PipelineStep`` value (the name failures report), and if the page should say something of its
   own while it runs, a ``Progress`` marker with that text;
2. ``pipeline.py``: its code, a ``Run`` method awaited in ``run_attempt`` (or one more entry of the lookups'
   table in ``Run._look_up``, when it needs only the token and the WABA id), its Meta calls through
   ``Run._call(PipelineStep.X, …)`` and its marker written with ``Run.persist(step=Progress.X)``;
3. its test in ``tests/whatsapp/`` (a row in ``test_signup_errors.STEPS`` for its failure);
4. ``docs/architecture.md``: the step in the pipeline's description.

A step that needs a Graph call the client lacks adds that call first (``meta/client.py``,
``meta/endpoints.py`` and the sandbox's answer), and a result the connection keeps needs its column
(``models.py``, a migration, ``outcomes.complete``): those are changes of their own, not part of the step.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from qualifica.observability.signup_metrics import ClosedLabel


class _Said(StrEnum):
    """A name (the member's value) with the pt-BR sentence the page shows for it."""

    text: str

    def __new__(cls, value: str, text: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.text = text
        return member


class Progress(_Said):
    STARTED = "started", "Conclua as etapas na janela da Meta. Esta página acompanha tudo."
    CALLBACK_RECEIVED = "callback_received", "Autorização recebida. Validando com a Meta…"
    TOKEN_EXCHANGED = "token_exchanged", "Conferindo a conta do WhatsApp Business e o número…"
    REGISTERING = "registering", "Registrando o número na API oficial do WhatsApp…"
    # Postponed by a Meta rate limit (ARCHITECTURE §14): the worker goes on once Meta lets us in again.
    RATE_LIMITED = (
        "rate_limited",
        "A Meta está limitando as requisições agora. Vamos continuar automaticamente em alguns minutos.",
    )


class PageStage(_Said):
    OPENING = "opening", "Abrindo a janela da Meta…"
    SAVING = "saving", "Autorização recebida. Salvando a conexão…"
    SLOW = (
        "slow",
        (
            "Está demorando mais que o normal. "
            "Pode aguardar: a conexão continua e aparece aqui quando terminar."
        ),
    )


FINISHING = "Finalizando a conexão…"  # a marker this release does not know (one written by a newer one)


def progress_text(step: str | None) -> str:
    try:
        return Progress(step or "").text
    except ValueError:
        return FINISHING


def step_texts() -> dict[str, str]:
    """Every text the connecting panel may show, by the name the status endpoint or the script uses."""
    return {stage.value: stage.text for stage in (*Progress, *PageStage)}


class PipelineStep(StrEnum):
    # Step names, not credentials (ruff S105 reads "token" in a name as a password).
    TOKEN_EXCHANGE = "token_exchange"  # noqa: S105
    WABA_LOOKUP = "waba_lookup"
    PHONE_LOOKUP = "phone_lookup"
    WEBHOOK_SUBSCRIPTION = "webhook_subscription"
    REGISTRATION = "registration"
    VERIFICATION = "verification"  # request_code / verify_code, for a number Meta has not verified
    NUMBER = "number"  # adding a number to a WABA that has none


class PopupStep(StrEnum):
    LOGIN = "login"  # the popup closed or was blocked without a code
    BUSINESS = "business"
    WABA = "waba"
    PHONE = "phone"
    PERMISSIONS = "permissions"
    PAYMENT = "payment"  # never reported by Meta: it happens in WhatsApp Manager after the flow
    # Not Meta's: the admin started a newer attempt, which ended this one (ARCHITECTURE §12).
    SUPERSEDED = "superseded"


SUPERSEDED = PopupStep.SUPERSEDED
POPUP_STEPS = frozenset(PopupStep)
# The failure and cancellation metrics' ``step`` (§13): these values, anything else ``other``;
# ``superseded`` is an attempt another ``start`` ended (§12).
METRIC_STEP = ClosedLabel((*PipelineStep, *PopupStep, "superseded"))
META_STEPS = {
    "BUSINESS_ACCOUNT_SELECTION": PopupStep.BUSINESS,
    "WABA_PHONE_PROFILE_PICKER": PopupStep.WABA,
    "WHATSAPP_BUSINESS_PROFILE_SETUP": PopupStep.WABA,
    "PHONE_NUMBER_SETUP": PopupStep.PHONE,
    "PHONE_NUMBER_VERIFICATION": PopupStep.PHONE,
    "PERMISSIONS": PopupStep.PERMISSIONS,
}


def popup_step(current_step: str | None) -> str:
    """Meta's ``current_step`` (or one of ours, as the page reports it) → the step we record.

    Anything Meta adds later is recorded as its raw value lower-cased, so it is never lost.
    """
    if not current_step:
        return PopupStep.LOGIN
    if current_step in POPUP_STEPS:
        return current_step
    return META_STEPS.get(current_step, current_step.strip().lower()[:32] or PopupStep.LOGIN)
