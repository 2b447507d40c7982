"""Meta's exact error answers, raised inside the sandbox's Graph handlers as ``GraphFault``."""

from __future__ import annotations

from qualifica.meta.sandbox.scenario import Failure

_OBJECT_MISSING = (
    "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing "
    "permissions, or does not support this operation. Please read the Graph API documentation at "
    "https://developers.facebook.com/docs/graph-api"
)


class GraphFault(Exception):
    """A Graph error answer; ``www_authenticate`` mirrors the OAuth header Meta adds to code failures."""

    def __init__(self, failure: Failure, *, www_authenticate: str | None = None) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.www_authenticate = www_authenticate


def _oauth(code: int, message: str, subcode: int | None = None, *, invalid_code: bool = False) -> GraphFault:
    header = f'OAuth "Facebook Platform" "invalid_code" "{message}"' if invalid_code else None
    return GraphFault(Failure(code=code, message=message, subcode=subcode), www_authenticate=header)


def code_expired() -> GraphFault:
    return _oauth(100, "This authorization code has expired.", 36007, invalid_code=True)


def code_used() -> GraphFault:
    return _oauth(100, "This authorization code has been used.", 36009, invalid_code=True)


def redirect_uri_mismatch() -> GraphFault:
    message = (
        "Error validating verification code. Please make sure your redirect_uri is identical to the one "
        "you used in the OAuth dialog request"
    )
    return _oauth(100, message, 36008, invalid_code=True)


def code_invalid() -> GraphFault:
    return _oauth(100, "Invalid verification code format.", invalid_code=True)


def wrong_secret() -> GraphFault:
    return _oauth(1, "Error validating client secret.")


def wrong_app() -> GraphFault:
    return _oauth(101, "Error validating application. Invalid application ID.")


def missing_parameter(name: str) -> GraphFault:
    return _oauth(100, f"Missing {name} parameter.")


def token_missing() -> GraphFault:
    return _oauth(104, "An access token is required to request this resource.")


def token_invalid() -> GraphFault:
    return _oauth(190, "Invalid OAuth access token - Cannot parse access token")


def app_token_invalid() -> GraphFault:
    return _oauth(190, "Invalid OAuth access token signature.")


def token_revoked(app_id: str) -> GraphFault:
    # Reference "Uncertain" 11: the subcode after an uninstall is unconfirmed; 458 is "app not installed".
    return _oauth(
        190, f"Error validating access token: The user has not authorized application {app_id}.", 458
    )


def token_expired() -> GraphFault:
    return _oauth(190, "Error validating access token: Session has expired.", 463)


def object_missing(object_id: str, method: str) -> GraphFault:
    message = _OBJECT_MISSING.format(method=method.lower(), id=object_id)
    return GraphFault(Failure(code=100, subcode=33, message=message, error_type="GraphMethodException"))


def invalid_pin() -> GraphFault:
    return GraphFault(Failure(code=100, message="(#100) Param pin must be a 6-digit number."))


def pin_mismatch() -> GraphFault:
    return GraphFault(Failure(code=133005))


def registration_limit() -> GraphFault:
    return GraphFault(Failure(code=133016))


def needs_verification() -> GraphFault:
    return GraphFault(Failure(code=133006, message="(#133006) Phone number re-verification needed"))


# -- ES v4 number verification (docs/meta.md#number-verification; Meta OpenAPI v23.0 examples for each path) -
def no_permission(kind: str) -> GraphFault:
    """The token lists the object but cannot use it: 403 code 200/1349174 (Meta's OpenAPI examples)."""
    message = f"Your app doesn't have permission to access this {kind}"
    return GraphFault(Failure(code=200, subcode=1349174, message=message, http_status=403))


def invalid_parameter(message: str, *, http_status: int = 400) -> GraphFault:
    return GraphFault(Failure(code=100, message=message, http_status=http_status))


def bad_code_method() -> GraphFault:
    return invalid_parameter("Invalid parameter: code_method must be SMS or VOICE")


def bad_language() -> GraphFault:
    return invalid_parameter("Invalid parameter: language must be a locale such as pt_BR")


def not_eligible_for_verification() -> GraphFault:
    message = "Phone number is not eligible for verification at this time"
    return GraphFault(Failure(code=100, message=message, http_status=422, error_type="GraphMethodException"))


def too_many_codes(regain_minutes: float) -> GraphFault:
    failure = Failure(
        code=4,
        subcode=2446079,
        message="Too many verification attempts. Please try again later",
        http_status=429,
        is_transient=True,
        regain_minutes=regain_minutes,
    )
    return GraphFault(failure)


def bad_code_format() -> GraphFault:
    return invalid_parameter("Invalid verification code format")


def wrong_code() -> GraphFault:
    message = "The verification code is invalid or has expired"
    return GraphFault(Failure(code=100, message=message, http_status=422, error_type="GraphMethodException"))


def bad_phone_number() -> GraphFault:
    return invalid_parameter("Invalid parameter: phone_number must be in E.164 format")


def number_in_use() -> GraphFault:
    message = "Phone number is already registered with WhatsApp Business"
    return GraphFault(Failure(code=100, message=message, http_status=409))


# -- coexistence syncs (docs/meta.md#coexistence-syncs, error table) -----------------------------------------
def not_a_business_app_number() -> GraphFault:
    return invalid_parameter("(#100) smb_app_data is only available for WhatsApp Business app numbers")


def bad_sync_type() -> GraphFault:
    return invalid_parameter("Invalid parameter: sync_type must be smb_app_state_sync or history")


def sync_already_requested() -> GraphFault:
    message = "(#2593107) Synchronization of this type was already requested for this phone number"
    return GraphFault(Failure(code=2593107, message=message))


def sync_window_over() -> GraphFault:
    message = "(#2593108) Synchronization must be requested within 24 hours of onboarding"
    return GraphFault(Failure(code=2593108, message=message))
