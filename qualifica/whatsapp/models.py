"""Tables of the WhatsApp domain. Secret columns hold AES-256-GCM ciphertext (see security.crypto)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from qualifica.db import SEALED, Base, Timestamps, UUIDPk, str_enum
from qualifica.jobs.leases import Retried
from qualifica.whatsapp.steps import Progress


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    DISCONNECTED = "disconnected"
    ERROR = "error"


class AttemptStatus(StrEnum):
    STARTED = "started"
    PROCESSING = "processing"
    PIN_REQUIRED = "pin_required"
    # Waiting for the admin (ARCHITECTURE §14): which WABA or number; the number's code; a number at all.
    CHOICE_REQUIRED = "choice_required"
    VERIFICATION_REQUIRED = "verification_required"
    NUMBER_REQUIRED = "number_required"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    EXPIRED = "expired"


class WhatsAppConnection(UUIDPk, Timestamps, Base):
    """One organization's connection: the PRD columns first, then what the design adds."""

    __tablename__ = "whatsapp_connections"
    # A connection that is not disconnected holds its WABA and its number: one organization at a time.
    __table_args__ = tuple(
        Index(
            f"uq_whatsapp_connections_held_{column}",
            column,
            unique=True,
            postgresql_where=text("status <> 'disconnected'"),
            sqlite_where=text("status <> 'disconnected'"),
        )
        for column in ("waba_id", "phone_number_id")
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True
    )
    waba_id: Mapped[str] = mapped_column(String(64))
    phone_number_id: Mapped[str] = mapped_column(String(64))
    display_phone_number: Mapped[str | None] = mapped_column(String(64))
    business_name: Mapped[str | None] = mapped_column(String(255))
    access_token: Mapped[str | None] = mapped_column(Text, info=SEALED)  # wiped (NULL) on disconnect
    token_expires_at: Mapped[datetime | None]
    status: Mapped[ConnectionStatus] = mapped_column(str_enum(ConnectionStatus, "connection_status"))
    error_message: Mapped[str | None] = mapped_column(Text)
    connected_at: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]
    # Design extras.
    business_id: Mapped[str | None] = mapped_column(String(64))
    verified_name: Mapped[str | None] = mapped_column(String(255))
    registration_pin: Mapped[str | None] = mapped_column(Text, info=SEALED)
    error_code: Mapped[str | None] = mapped_column(String(64))
    has_existing_number: Mapped[bool | None]
    signup_event: Mapped[str | None] = mapped_column(String(64))
    last_attempt_id: Mapped[uuid.UUID | None]
    quality_rating: Mapped[str | None] = mapped_column(String(32))
    name_status: Mapped[str | None] = mapped_column(String(32))
    messaging_limit: Mapped[str | None] = mapped_column(String(32))
    code_verification_status: Mapped[str | None] = mapped_column(String(32))
    platform_type: Mapped[str | None] = mapped_column(String(32))
    health: Mapped[dict[str, Any] | None]  # last good phone health snapshot (health_status, limits)
    health_warnings: Mapped[list[Any] | None]
    last_health_check_at: Mapped[datetime | None]
    last_health_error: Mapped[str | None] = mapped_column(Text)
    # When Meta last delivered a webhook about this connection (its received_at; only ever moves forward).
    last_webhook_at: Mapped[datetime | None]


class EmbeddedSignupAttempt(UUIDPk, Timestamps, Base):
    """One click on *Iniciar conexão*, persisted step by step so an interrupted signup can resume."""

    __tablename__ = "embedded_signup_attempts"
    __table_args__ = (Index("ix_embedded_signup_attempts_status_lease", "status", "lease_expires_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[AttemptStatus] = mapped_column(str_enum(AttemptStatus, "attempt_status"))
    step: Mapped[str] = mapped_column(String(32), default=Progress.STARTED)  # the last marker persisted
    state_consumed_at: Mapped[datetime | None]
    # SHA-256 of Meta's code, to tell a retried callback from another code. The code itself is never
    # stored: only the callback's own run, which holds it in memory, may spend it.
    code_digest: Mapped[str | None] = mapped_column(String(64))
    redirect_uri: Mapped[str | None] = mapped_column(Text)
    # Meta session info from the browser's WA_EMBEDDED_SIGNUP message.
    event: Mapped[str | None] = mapped_column(String(64))
    waba_id: Mapped[str | None] = mapped_column(String(64))
    phone_number_id: Mapped[str | None] = mapped_column(String(64))
    business_id: Mapped[str | None] = mapped_column(String(64))
    meta_session_id: Mapped[str | None] = mapped_column(String(128))
    # Results of each pipeline step.
    access_token: Mapped[str | None] = mapped_column(Text, info=SEALED)  # while in flight
    token_expires_at: Mapped[datetime | None]
    step_results: Mapped[dict[str, Any] | None]
    # Each persisted marker with its moment ([{"step", "at"}]): the staff timeline shows where time went.
    step_times: Mapped[list[Any] | None]
    registration_pin: Mapped[str | None] = mapped_column(Text, info=SEALED)
    has_existing_number: Mapped[bool | None]
    connection_id: Mapped[uuid.UUID | None]
    # Outcome.
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    step_failed: Mapped[str | None] = mapped_column(String(32))
    step_cancelled: Mapped[str | None] = mapped_column(String(32))
    response: Mapped[dict[str, Any] | None]  # the callback's answer, replayed to duplicate callbacks
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # Worker lease.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    resume_count: Mapped[int] = mapped_column(default=0)
    pin_mismatches: Mapped[int] = mapped_column(default=0, server_default="0")  # the admin's wrong PINs
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))


class SyncType(StrEnum):
    """Meta's ``smb_app_data`` sync types, in the order they are requested (contacts, then history)."""

    CONTACTS = "smb_app_state_sync"
    HISTORY = "history"


class SyncStatus(StrEnum):
    PENDING = "pending"
    REQUESTED = "requested"
    FAILED = "failed"


class CoexistenceSync(UUIDPk, Timestamps, Retried, Base):
    """One of the two one-shot syncs of a WhatsApp Business app number, requested once after onboarding.

    Meta accepts each sync type once, within 24 h of onboarding (docs/meta.md, coexistence); the row is
    the record that it was asked for (``request_id`` is Meta's, for support) and of what came back.
    """

    __tablename__ = "whatsapp_coexistence_syncs"
    __table_args__ = (
        UniqueConstraint("attempt_id", "sync_type"),
        Index("ix_whatsapp_coexistence_syncs_due", "status", "next_attempt_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("whatsapp_connections.id", ondelete="CASCADE")
    )
    attempt_id: Mapped[uuid.UUID]
    phone_number_id: Mapped[str] = mapped_column(String(64))
    sync_type: Mapped[SyncType] = mapped_column(str_enum(SyncType, "sync_type"))
    position: Mapped[int]  # 1 for contacts, 2 for history: history waits for contacts
    status: Mapped[SyncStatus] = mapped_column(str_enum(SyncStatus, "sync_status"))
    request_id: Mapped[str | None] = mapped_column(String(128))
    requested_at: Mapped[datetime | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    # What Meta delivered for it (the webhooks): the last delivery, history's progress (0–100).
    last_delivery_at: Mapped[datetime | None]
    progress: Mapped[int | None]


class WhatsAppContact(UUIDPk, Timestamps, Base):
    """A person who wrote to (or was synced from) a connected number: the lead's identity.

    Meta identifies people by a business-scoped user id (``user_id``, BSUID) and, unless they use a
    username, by their phone (``wa_id``); either may be missing, and both can change (system messages
    ``user_changed_user_id`` and ``user_changed_number``), so a contact is never keyed on the phone alone.
    """

    __tablename__ = "whatsapp_contacts"
    __table_args__ = (
        UniqueConstraint("phone_number_id", "user_id"),
        UniqueConstraint("phone_number_id", "wa_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    phone_number_id: Mapped[str] = mapped_column(String(64))  # our number the contact talks to
    user_id: Mapped[str | None] = mapped_column(String(256))
    wa_id: Mapped[str | None] = mapped_column(String(32))
    username: Mapped[str | None] = mapped_column(String(128))
    profile_name: Mapped[str | None] = mapped_column(String(255))
    previous_user_ids: Mapped[list[Any] | None]
    previous_wa_ids: Mapped[list[Any] | None]
    source: Mapped[str] = mapped_column(String(32))  # messages | smb_app_state_sync | history | echo
    last_inbound_at: Mapped[datetime | None]
