"""The webhook subscription our Meta app holds: Meta's object and the fields of it we subscribe to.

The one list of those fields: the sandbox reports it as the app's subscription, ``qualifica meta check``
requires it of the real app, and ``qualifica/webhooks/handlers/`` has a handler for each (a test holds the
two equal). Meta's fields:
https://developers.facebook.com/docs/graph-api/webhooks/reference/whatsapp-business-account/
"""

from __future__ import annotations

WEBHOOK_OBJECT = "whatsapp_business_account"
SUBSCRIBED_FIELDS = (
    "account_update",
    "messages",
    "phone_number_quality_update",
    "phone_number_name_update",
    "account_review_update",
    "business_capability_update",
    # Coexistence: subscribed before onboarding, or the one-shot syncs' deliveries are lost
    # (docs/meta.md#coexistence-syncs).
    "history",
    "smb_app_state_sync",
    "smb_message_echoes",
)
COEXISTENCE_FIELDS = ("history", "smb_app_state_sync", "smb_message_echoes")
