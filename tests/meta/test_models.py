"""Typed results: the open questions of the reference are tolerated both ways."""

from __future__ import annotations

from qualifica.meta.models import PhoneNumber, TokenExchange, TokenInfo, Waba
from qualifica.meta.usage import parse_usage


class TestTokenExchange:
    def test_with_expires_in(self) -> None:
        exchange = TokenExchange.model_validate(
            {"access_token": "EAA1", "token_type": "bearer", "expires_in": 5183944}
        )
        assert exchange.expires_in == 5183944

    def test_without_expires_in(self) -> None:
        assert (
            TokenExchange.model_validate({"access_token": "EAA1", "token_type": "bearer"}).expires_in is None
        )

    def test_token_is_not_in_repr(self) -> None:
        assert "EAA1" not in repr(TokenExchange.model_validate({"access_token": "EAA1"}))


class TestTokenInfo:
    def test_both_classic_whatsapp_scopes_hint_their_wabas_but_not_the_portfolio(self) -> None:
        info = TokenInfo.model_validate(
            {
                "is_valid": True,
                "granular_scopes": [
                    {"scope": "business_management", "target_ids": ["999"]},
                    {"scope": "whatsapp_business_management", "target_ids": ["3", "2"]},
                    {"scope": "whatsapp_business_messaging", "target_ids": ["2", "1"]},
                ],
            }
        )
        assert info.waba_hints == frozenset({"1", "2", "3"})

    def test_messaging_scope_alone_is_enough(self) -> None:
        info = TokenInfo.model_validate(
            {"granular_scopes": [{"scope": "whatsapp_business_messaging", "target_ids": ["7"]}]}
        )
        assert info.waba_hints == frozenset({"7"})

    def test_invalid_token_carries_its_error(self) -> None:
        info = TokenInfo.model_validate(
            {"is_valid": False, "error": {"code": 190, "message": "x", "subcode": 458}}
        )
        assert not info.is_valid
        assert info.error is not None and info.error.subcode == 458
        assert info.waba_hints == frozenset()

    def test_june_2026_shape_hints_the_manage_events_targets_not_the_portfolio(self) -> None:
        # reference 2026 §1.2: no classic WhatsApp scope; business_management lists the portfolio
        info = TokenInfo.model_validate(
            {
                "is_valid": True,
                "type": "SYSTEM_USER",
                "scopes": ["business_management", "whatsapp_business_manage_events", "public_profile"],
                "granular_scopes": [
                    {"scope": "business_management", "target_ids": ["200000000000002"]},
                    {"scope": "whatsapp_business_manage_events", "target_ids": ["31", "30"]},
                ],
            }
        )
        assert info.waba_hints == frozenset({"30", "31"})
        assert info.portfolio_ids == frozenset({"200000000000002"})
        assert not info.has_legacy_whatsapp_scopes

    def test_legacy_shape_hints_both_whatsapp_scopes_as_a_set(self) -> None:
        info = TokenInfo.model_validate(
            {
                "scopes": ["whatsapp_business_management", "whatsapp_business_messaging"],
                "granular_scopes": [
                    {"scope": "whatsapp_business_management", "target_ids": ["3", "2"]},
                    {"scope": "whatsapp_business_messaging", "target_ids": ["2", "1"]},
                    {"scope": "business_management", "target_ids": ["999"]},
                ],
            }
        )
        assert info.waba_hints == frozenset({"1", "2", "3"})
        assert info.has_legacy_whatsapp_scopes

    def test_hints_ignore_order_and_drop_portfolio_ids_listed_under_whatsapp_scopes(self) -> None:
        def shaped(targets: list[str]) -> TokenInfo:
            return TokenInfo.model_validate(
                {
                    "granular_scopes": [
                        {"scope": "business_management", "target_ids": ["999"]},
                        {"scope": "whatsapp_business_manage_events", "target_ids": targets},
                    ]
                }
            )

        assert shaped(["1", "2", "999"]).waba_hints == shaped(["2", "999", "1"]).waba_hints == {"1", "2"}

    def test_a_global_grant_without_target_ids_gives_no_hint(self) -> None:
        info = TokenInfo.model_validate({"granular_scopes": [{"scope": "whatsapp_business_manage_events"}]})
        assert info.waba_hints == frozenset()

    def test_expires_at_zero_means_never(self) -> None:
        assert TokenInfo.model_validate({"expires_at": 0}).never_expires
        assert not TokenInfo.model_validate({"expires_at": 1_800_000_000}).never_expires


class TestObjects:
    def test_business_name_falls_back_to_the_waba_name(self) -> None:
        assert Waba.model_validate({"id": "1", "name": "W"}).business_name == "W"
        owned = Waba.model_validate({"id": "1", "name": "W", "owner_business_info": {"id": "2", "name": "B"}})
        assert owned.business_name == "B"

    def test_needs_registration_follows_chatwoots_heuristic(self) -> None:
        pending = PhoneNumber.model_validate(
            {
                "id": "1",
                "code_verification_status": "VERIFIED",
                "platform_type": "NOT_APPLICABLE",
                "throughput": {"level": "NOT_APPLICABLE"},
            }
        )
        live = PhoneNumber.model_validate(
            {
                "id": "1",
                "code_verification_status": "VERIFIED",
                "platform_type": "CLOUD_API",
                "throughput": {"level": "STANDARD"},
            }
        )
        coexistence = PhoneNumber.model_validate(
            {"id": "1", "is_on_biz_app": True, "platform_type": "CLOUD_API"}
        )
        assert pending.needs_registration
        assert not live.needs_registration
        assert not coexistence.needs_registration
        assert live.throughput_level == "STANDARD"


class TestUsage:
    def test_both_headers(self) -> None:
        usage = parse_usage(
            {
                "x-app-usage": '{"call_count": 91, "total_cputime": 3, "total_time": 5}',
                "x-business-use-case-usage": '{"123": [{"type": "whatsapp_business_management",'
                ' "call_count": 12, "total_cputime": 1, "total_time": 2,'
                ' "estimated_time_to_regain_access": 7}]}',
            }
        )
        assert usage is not None and usage.app is not None
        assert usage.app.call_count == 91
        assert usage.business_use_case["123"][0].estimated_time_to_regain_access == 7
        assert usage.max_percent == 91

    def test_regain_seconds_is_the_longest_wait_in_seconds(self) -> None:
        usage = parse_usage(
            {
                "x-business-use-case-usage": '{"1": [{"type": "whatsapp_business_management",'
                ' "call_count": 100, "estimated_time_to_regain_access": 3}], "2": [{"type": "whatsapp",'
                ' "call_count": 100, "estimated_time_to_regain_access": 5}]}'
            }
        )
        assert usage is not None and usage.regain_seconds == 300
        calm = parse_usage({"x-app-usage": '{"call_count": 1}'})
        assert calm is not None and calm.regain_seconds is None

    def test_absent_or_malformed_headers(self) -> None:
        assert parse_usage({}) is None
        assert parse_usage({"x-app-usage": "not json"}) is None
