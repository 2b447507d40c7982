"""The ``state`` of an Embedded Signup attempt: signed, expiring, bound to organization, attempt and user.

Single use is enforced by the attempt row (``state_consumed_at``), not by the token itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

STATE_MAX_AGE_SECONDS = 30 * 60


class StateInvalid(Exception):
    pass


class StateExpired(Exception):
    pass


@dataclass(frozen=True)
class SignupState:
    attempt_id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID


class StateSigner:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="qualifica.embedded-signup.state")

    def sign(self, state: SignupState) -> str:
        return self._serializer.dumps(
            {"a": str(state.attempt_id), "o": str(state.organization_id), "u": str(state.user_id)}
        )

    def verify(self, token: str, *, max_age: int = STATE_MAX_AGE_SECONDS) -> SignupState:
        try:
            raw = self._serializer.loads(token, max_age=max_age)
        except SignatureExpired:
            raise StateExpired from None
        except BadSignature:
            raise StateInvalid from None
        try:
            return SignupState(uuid.UUID(raw["a"]), uuid.UUID(raw["o"]), uuid.UUID(raw["u"]))
        except (KeyError, TypeError, ValueError):
            raise StateInvalid from None
