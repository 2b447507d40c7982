"""The handlers' registry: one handler per field, and exactly the fields the app subscribes to at Meta."""

from __future__ import annotations

import pytest

from qualifica.meta.webhook_subscription import SUBSCRIBED_FIELDS
from qualifica.webhooks.handlers import (
    HANDLERS,
    account,
    coexistence,
    handler_for,
    merge,
    messages,
    phone_health,
)


class TestRegistry:
    def test_every_subscribed_field_has_a_handler_and_every_handled_field_is_subscribed(self) -> None:
        assert sorted(HANDLERS) == sorted(SUBSCRIBED_FIELDS)

    def test_each_module_of_the_package_contributes_the_fields_it_declares(self) -> None:
        for module in (account, coexistence, messages, phone_health):
            assert {field: HANDLERS[field] for field in module.HANDLERS} == module.HANDLERS

    def test_a_field_nobody_declares_is_kept_for_the_assistant(self) -> None:
        assert handler_for("smb_app_data") is messages.deliver
        assert handler_for("account_update") is account.handle

    def test_two_modules_claiming_one_field_are_refused(self) -> None:
        with pytest.raises(ValueError, match="'account_update'"):
            merge([account.HANDLERS, {"account_update": messages.deliver}])
