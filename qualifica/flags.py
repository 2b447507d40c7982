"""Feature flags: rows of ``feature_flags`` evaluated through OpenFeature by our own provider.

Evaluation order (ARCHITECTURE §10): the organization's override, then the rollout percentage (when the
organization's stable bucket is inside it), then the global default, then the caller's default.

Each process keeps a snapshot of the (small) table for at most ``CACHE_SECONDS``, so a change made anywhere
is seen by every process within that time; a change made in this process is seen at once.
"""

from __future__ import annotations

import hashlib
import time
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagEvaluationDetails, FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata
from sqlalchemy import ForeignKey, Index, String, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from qualifica.db import Base, UUIDPk, utcnow

WHATSAPP_EMBEDDED_SIGNUP = "whatsapp_embedded_signup_enabled"
KNOWN_FLAGS = (WHATSAPP_EMBEDDED_SIGNUP,)
CACHE_SECONDS = 2.0  # the contract allows 5 s between a change and every process seeing it
PROVIDER_NAME = "qualifica-feature-flags-table"


class FeatureFlag(UUIDPk, Base):
    """A row with ``organization_id`` NULL holds the global default and the rollout percentage."""

    __tablename__ = "feature_flags"
    __table_args__ = (
        Index(
            "uq_feature_flags_key_org",
            "key",
            "organization_id",
            unique=True,
            postgresql_where=text("organization_id IS NOT NULL"),
            sqlite_where=text("organization_id IS NOT NULL"),
        ),
        Index(
            "uq_feature_flags_key_global",
            "key",
            unique=True,
            postgresql_where=text("organization_id IS NULL"),
            sqlite_where=text("organization_id IS NULL"),
        ),
    )

    key: Mapped[str] = mapped_column(String(128))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    enabled: Mapped[bool | None]
    rollout_percent: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(320))


@dataclass(frozen=True)
class Rule:
    key: str
    organization_id: uuid.UUID | None
    enabled: bool | None
    rollout_percent: int | None


def rollout_bucket(key: str, organization_id: uuid.UUID) -> int:
    """A stable 0–99 bucket per flag and organization: the same answer on every process, forever."""
    digest = hashlib.sha256(f"{key}:{organization_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100


def evaluate(
    rules: Iterable[Rule], key: str, *, organization_id: uuid.UUID | None, default: bool
) -> FlagResolutionDetails[bool]:
    """The pure decision, with the reason and which setting decided it (``variant``)."""
    mine = [rule for rule in rules if rule.key == key]
    override = next(
        (r for r in mine if r.organization_id is not None and r.organization_id == organization_id), None
    )
    if override is not None and override.enabled is not None:
        return FlagResolutionDetails(override.enabled, reason=Reason.TARGETING_MATCH, variant="organization")
    global_rule = next((r for r in mine if r.organization_id is None), None)
    if global_rule is None:
        return FlagResolutionDetails(default, reason=Reason.DEFAULT, variant="default")
    percent = global_rule.rollout_percent
    if percent is not None and organization_id is not None and rollout_bucket(key, organization_id) < percent:
        return FlagResolutionDetails(True, reason=Reason.SPLIT, variant="percentage")
    if global_rule.enabled is None:
        return FlagResolutionDetails(default, reason=Reason.DEFAULT, variant="default")
    return FlagResolutionDetails(global_rule.enabled, reason=Reason.STATIC, variant="global")


async def load_rules(session: AsyncSession) -> list[Rule]:
    rows = await session.execute(
        select(FeatureFlag.key, FeatureFlag.organization_id, FeatureFlag.enabled, FeatureFlag.rollout_percent)
    )
    return [Rule(row.key, row.organization_id, row.enabled, row.rollout_percent) for row in rows]


class TableFlagProvider(AbstractProvider):
    """OpenFeature provider over one database's ``feature_flags``, with a snapshot of at most ``ttl`` s.

    It holds its engine weakly: the engine belongs to whoever built it (the app lifespan, the worker).
    """

    def __init__(self, engine: AsyncEngine, *, ttl: float = CACHE_SECONDS) -> None:
        super().__init__()
        self._engine = weakref.ref(engine)
        self.ttl = ttl
        self._rules: list[Rule] | None = None
        self._loaded_at = 0.0

    def get_metadata(self) -> Metadata:
        return Metadata(name=PROVIDER_NAME)

    def invalidate(self) -> None:
        self._rules = None

    def _fresh(self) -> bool:
        return self._rules is not None and time.monotonic() - self._loaded_at < self.ttl

    async def refresh(self) -> None:
        engine = self._engine()
        if engine is None:
            return
        async with AsyncSession(engine) as session:
            rules = await load_rules(session)
        self._rules, self._loaded_at = rules, time.monotonic()

    async def resolve_boolean_details_async(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        if not self._fresh():
            await self.refresh()
        return self.resolve_boolean_details(flag_key, default_value, evaluation_context)

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        """Synchronous callers get the last snapshot (no I/O here); asynchronous ones refresh it first."""
        if self._rules is None:
            return FlagResolutionDetails(
                default_value,
                reason=Reason.ERROR,
                error_code=ErrorCode.PROVIDER_NOT_READY,
                error_message="flags not loaded yet; evaluate asynchronously",
            )
        target = evaluation_context.targeting_key if evaluation_context else None
        details = evaluate(
            self._rules,
            flag_key,
            organization_id=uuid.UUID(target) if target else None,
            default=default_value,
        )
        if not self._fresh():
            details.reason = Reason.STALE
        return details

    def _not_boolean(self, default_value: Any) -> FlagResolutionDetails[Any]:
        return FlagResolutionDetails(
            default_value,
            reason=Reason.ERROR,
            error_code=ErrorCode.TYPE_MISMATCH,
            error_message="every flag of this service is boolean",
        )

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._not_boolean(default_value)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._not_boolean(default_value)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._not_boolean(default_value)

    def resolve_object_details(  # we never serve objects
        self, flag_key: str, default_value: Any, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[Any]:
        return self._not_boolean(default_value)


# One provider per database engine, each under its own OpenFeature domain: the web app, the worker and the
# tests (several apps in one process, on different event loops) each read their own database on their loop.
_PROVIDERS: weakref.WeakKeyDictionary[AsyncEngine, tuple[str, TableFlagProvider]] = (
    weakref.WeakKeyDictionary()
)


def provider_for(engine: AsyncEngine) -> tuple[str, TableFlagProvider]:
    """The OpenFeature domain and provider of this engine, registered on first use."""
    found = _PROVIDERS.get(engine)
    if found is None:
        found = (f"qualifica-flags-{uuid.uuid4().hex}", TableFlagProvider(engine))
        api.set_provider_and_wait(found[1], domain=found[0])
        _PROVIDERS[engine] = found
    return found


def invalidate_cache() -> None:
    """After a change made in this process: every provider of the process reloads on its next use."""
    for _, provider in list(_PROVIDERS.values()):
        provider.invalidate()


async def flag_details(
    session: AsyncSession, key: str, *, organization_id: uuid.UUID | None, default: bool
) -> FlagEvaluationDetails[bool]:
    domain, _ = provider_for(_engine_of(session))
    context = EvaluationContext(targeting_key=str(organization_id) if organization_id else None)
    return await api.get_client(domain).get_boolean_details_async(key, default, context)


async def flag_enabled(session: AsyncSession, key: str, *, organization_id: uuid.UUID, default: bool) -> bool:
    """Organization override, then the percentage (when the organization is inside it), then the default.

    ``session`` names the database (its engine); the value comes from the OpenFeature client of that
    database, so it may be up to ``CACHE_SECONDS`` old when the change came from another process.
    """
    details = await flag_details(session, key, organization_id=organization_id, default=default)
    return bool(details.value)


def _engine_of(session: AsyncSession) -> AsyncEngine:
    bind = session.bind
    if not isinstance(bind, AsyncEngine):
        raise TypeError("flags are evaluated on a session bound to an AsyncEngine")
    return bind
