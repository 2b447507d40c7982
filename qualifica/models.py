"""Every table, imported in one place so Alembic and the test setup see the whole schema."""

from qualifica.accounts.invitations import Invitation
from qualifica.accounts.models import LoginFailure, Organization, Role, User, UserSession
from qualifica.assistant.models import OutboundMessage, SendSlot, ServiceKey, ServiceWindow
from qualifica.audit import AuditEntry
from qualifica.db import Base
from qualifica.flags import FeatureFlag
from qualifica.observability.models import AnalyticsEvent
from qualifica.staff.rollout import RolloutPhase
from qualifica.webhooks.models import WebhookChange, WebhookEvent
from qualifica.whatsapp.events import AssistantEvent, EventCounter
from qualifica.whatsapp.mail.models import MailOutbox
from qualifica.whatsapp.models import (
    CoexistenceSync,
    EmbeddedSignupAttempt,
    WhatsAppConnection,
    WhatsAppContact,
)

__all__ = [
    "AnalyticsEvent",
    "AssistantEvent",
    "AuditEntry",
    "Base",
    "CoexistenceSync",
    "EmbeddedSignupAttempt",
    "EventCounter",
    "FeatureFlag",
    "Invitation",
    "LoginFailure",
    "MailOutbox",
    "Organization",
    "OutboundMessage",
    "Role",
    "RolloutPhase",
    "SendSlot",
    "ServiceKey",
    "ServiceWindow",
    "User",
    "UserSession",
    "WebhookChange",
    "WebhookEvent",
    "WhatsAppConnection",
    "WhatsAppContact",
]
