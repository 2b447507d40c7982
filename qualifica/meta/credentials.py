"""The Meta app credentials in force: the configured ones, or the sandbox's fixed fake app when empty."""

from __future__ import annotations

from dataclasses import dataclass, field

from qualifica.config import Settings

# A fake app that exists only inside the sandbox: it guards nothing, so a fixed value is fine and lets the
# standalone sandbox and the app agree without sharing state.
SANDBOX_APP_ID = "880000000000001"
SANDBOX_APP_SECRET = "sandbox-app-secret-0001"  # noqa: S105 - not a secret, see above
SANDBOX_CONFIG_ID = "880000000000777"


@dataclass(frozen=True)
class MetaAppCredentials:
    app_id: str
    app_secret: str = field(repr=False)
    config_id: str

    @property
    def app_token(self) -> str:
        """The ``app_id|app_secret`` app access token; as secret as the app secret itself."""
        return f"{self.app_id}|{self.app_secret}"


def effective_credentials(settings: Settings, *, sandbox: bool | None = None) -> MetaAppCredentials:
    """Credentials both the ``GraphClient`` and the sandbox use, so they always agree.

    In sandbox mode (``settings.sandbox``, or ``sandbox=True`` for the sandbox itself) an empty value
    falls back to the sandbox's fake app; outside it the configured values are returned as they are.
    """
    use_defaults = settings.sandbox if sandbox is None else sandbox
    app_id = settings.meta_app_id
    app_secret = settings.meta_app_secret.get_secret_value()
    config_id = settings.meta_config_id
    if use_defaults:
        app_id = app_id or SANDBOX_APP_ID
        app_secret = app_secret or SANDBOX_APP_SECRET
        config_id = config_id or SANDBOX_CONFIG_ID
    return MetaAppCredentials(app_id=app_id, app_secret=app_secret, config_id=config_id)
