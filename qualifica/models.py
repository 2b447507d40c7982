"""Every table, imported in one place so Alembic and the test setup see the whole schema."""

from qualifica.accounts.invitations import Invitation
from qualifica.accounts.models import LoginFailure, Organization, Role, User, UserSession
from qualifica.audit import AuditEntry
from qualifica.db import Base
from qualifica.flags import FeatureFlag
from qualifica.observability.models import AnalyticsEvent
from qualifica.webhooks.models import WebhookChange, WebhookEvent
from qualifica.whatsapp.mail.models import MailOutbox
from qualifica.whatsapp.models import (
    CoexistenceSync,
    EmbeddedSignupAttempt,
    WhatsAppConnection,
    WhatsAppContact,
)

__all__ = [
    "AnalyticsEvent",
    "AuditEntry",
    "Base",
    "CoexistenceSync",
    "EmbeddedSignupAttempt",
    "FeatureFlag",
    "Invitation",
    "LoginFailure",
    "MailOutbox",
    "Organization",
    "Role",
    "User",
    "UserSession",
    "WebhookChange",
    "WebhookEvent",
    "WhatsAppConnection",
    "WhatsAppContact",
]
