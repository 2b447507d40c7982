"""Names of the Graph endpoints we call: metric labels, log fields and sandbox scenario keys share them."""

from __future__ import annotations

from enum import StrEnum


class Endpoint(StrEnum):
    # Endpoint names, not credentials (ruff S105 reads "token" in a name as a password).
    OAUTH_ACCESS_TOKEN = "oauth_access_token"  # noqa: S105
    DEBUG_TOKEN = "debug_token"  # noqa: S105
    APP = "app"
    APP_SUBSCRIPTIONS = "app_subscriptions"
    WABA = "waba"
    PHONE_NUMBERS = "phone_numbers"
    PHONE_NUMBER = "phone_number"
    SUBSCRIBED_APPS = "subscribed_apps"
    REGISTER = "register"
    DEREGISTER = "deregister"
    ADD_PHONE_NUMBER = "add_phone_number"  # POST /{waba_id}/phone_numbers
    REQUEST_CODE = "request_code"
    VERIFY_CODE = "verify_code"
    SMB_APP_DATA = "smb_app_data"
    MESSAGES = "messages"  # POST /{phone_number_id}/messages (the assistant's sends, §15)
    MEDIA = "media"  # GET /{media_id}: a received media's download URL (the assistant's media, §15)
