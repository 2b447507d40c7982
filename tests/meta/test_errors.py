"""Classification of Meta's errors, table-driven from the reference's §5.2 table."""

from __future__ import annotations

import pytest

from qualifica.meta.errors import MetaError, error_from_envelope

# (code, subcode, message, HTTP status, transient?) — docs/meta.md#exchanging-the-code and #graph-errors.
ERROR_TABLE = [
    (1, None, "An unknown error occurred", 400, True),
    (2, None, "An unexpected error has occurred. Please retry your request later.", 500, True),
    (4, None, "(#4) Application request limit reached", 400, True),
    (17, None, "(#17) User request limit reached", 400, True),
    (32, None, "(#32) Page request limit reached", 400, True),
    (341, None, "(#341) Application limit reached", 400, True),
    (613, None, "(#613) Calls to this api have exceeded the rate limit.", 400, True),
    (80007, None, "(#80007) Rate limit issue", 400, True),
    (130429, None, "(#130429) Rate limit hit", 400, True),
    (131016, None, "(#131016) Service unavailable", 500, True),
    (131056, None, "(#131056) pair rate limit hit", 400, True),
    (131057, None, "(#131057) Business Account is in maintenance mode", 500, True),
    (133004, None, "(#133004) Server temporarily unavailable", 503, True),
    (0, None, "AuthException", 401, False),
    (1, None, "Error validating client secret.", 400, False),
    (10, None, "(#10) Application does not have permission for this action", 403, False),
    (100, None, "(#100) Invalid parameter", 400, False),
    (100, 33, "Unsupported get request. Object with ID '1' does not exist", 400, False),
    (100, 36007, "This authorization code has expired.", 400, False),
    (100, 36008, "Error validating verification code.", 400, False),
    (100, 36009, "This authorization code has been used.", 400, False),
    (101, None, "Error validating application. Invalid application ID.", 400, False),
    (190, 458, "Error validating access token", 400, False),
    (200, None, "(#200) Permissions error", 403, False),
    (368, None, "Temporarily blocked for policies violations", 403, False),
    (131005, None, "(#131005) Access denied", 403, False),
    (131031, None, "(#131031) Account has been locked", 403, False),
    (133005, None, "(#133005) Two step verification PIN Mismatch", 400, False),
    (133006, None, "(#133006) Phone number re-verification needed", 400, False),
    (133016, None, "(#133016) Account register deregister rate limit exceeded", 400, False),
]


def envelope(code: int, subcode: int | None, message: str, **extra: object) -> dict[str, object]:
    error: dict[str, object] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "Atr",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": {**error, **extra}}


class TestClassification:
    @pytest.mark.parametrize(("code", "subcode", "message", "status", "transient"), ERROR_TABLE)
    def test_reference_table(
        self, code: int, subcode: int | None, message: str, status: int, transient: bool
    ) -> None:
        error = error_from_envelope(envelope(code, subcode, message), http_status=status)
        assert (error.code, error.subcode, error.transient) == (code, subcode, transient)
        assert error.is_transient is transient
        assert error.safe_message == message
        assert error.http_status == status
        assert error.fbtrace_id == "Atr"

    def test_is_transient_flag_wins_over_a_permanent_code(self) -> None:
        error = error_from_envelope(envelope(100, None, "busy", is_transient=True), http_status=400)
        assert error.transient

    def test_any_5xx_is_transient(self) -> None:
        assert error_from_envelope(envelope(3, None, "odd"), http_status=502).transient

    @pytest.mark.parametrize(
        ("message", "subcode"),
        [
            ("This authorization code has expired.", 36007),
            ("This authorization code has been used.", 36009),
            (
                "Error validating verification code. Please make sure your redirect_uri is identical to x",
                36008,
            ),
        ],
    )
    def test_missing_subcode_is_recovered_from_the_message(self, message: str, subcode: int) -> None:
        error = error_from_envelope(envelope(100, None, message), http_status=400)
        assert error.subcode == subcode
        assert not error.transient

    def test_user_facing_fields_are_kept(self) -> None:
        payload = envelope(133005, None, "(#133005) PIN", error_user_title="PIN", error_user_msg="Use o PIN")
        error = error_from_envelope(payload, http_status=400)
        assert (error.user_title, error.user_msg, error.type) == ("PIN", "Use o PIN", "OAuthException")
        assert error.is_pin_mismatch

    def test_garbage_envelope_still_gives_an_error(self) -> None:
        error = error_from_envelope({"error": "boom"}, http_status=500)
        assert error.code is None
        assert error.safe_message == "boom"
        assert error.transient


class TestRateLimit:
    @pytest.mark.parametrize("code", [4, 17, 32, 613, 80007, 80008, 130429])
    def test_rate_limit_codes(self, code: int) -> None:
        error = error_from_envelope(envelope(code, None, "limit"), http_status=400)
        assert error.is_rate_limit and error.transient and error.retry_after is None

    @pytest.mark.parametrize("code", [1, 2, 100, 131016, 131056, 133016])
    def test_other_codes_are_not_rate_limits(self, code: int) -> None:
        assert not error_from_envelope(envelope(code, None, "x"), http_status=400).is_rate_limit


class TestText:
    def test_str_names_endpoint_code_and_message(self) -> None:
        error = MetaError("(#133005) PIN Mismatch", code=133005, http_status=400, endpoint="register")
        assert str(error) == "register: Meta permanent error code=133005 HTTP 400: (#133005) PIN Mismatch"

    def test_scrubbed_removes_echoed_secrets(self) -> None:
        error = MetaError("Malformed access token EAAsecret123", code=190, user_msg="EAAsecret123 bad")
        error.scrubbed(["EAAsecret123"])
        assert "EAAsecret123" not in str(error)
        assert "EAAsecret123" not in repr(error)
        assert error.user_msg == "[redacted] bad"
