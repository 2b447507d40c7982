"""Signed session cookies and the CSRF token bound to them (double submit, checked in constant time).

The cookie carries a random secret (``sid``); the server keeps only its digest, so a session can be ended
there (``accounts/sessions.py``): the signature only keeps forged cookies from reaching the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "qualifica_session"
CSRF_COOKIE = "qualifica_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_MAX_AGE = 12 * 3600


@dataclass(frozen=True)
class SessionData:
    user_id: uuid.UUID
    sid: str  # random per login; the server stores its digest, the CSRF token is derived from it

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.sid.encode()).hexdigest()


class SessionCodec:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="qualifica.session")
        self._csrf_key = hashlib.sha256(b"qualifica.csrf:" + secret_key.encode()).digest()

    def new_session(self, user_id: uuid.UUID) -> tuple[str, SessionData]:
        data = SessionData(user_id=user_id, sid=secrets.token_urlsafe(32))
        return self._serializer.dumps({"u": str(user_id), "s": data.sid}), data

    def load(self, cookie: str | None) -> SessionData | None:
        if not cookie:
            return None
        try:
            raw = self._serializer.loads(cookie, max_age=SESSION_MAX_AGE)
            return SessionData(user_id=uuid.UUID(raw["u"]), sid=str(raw["s"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None

    def csrf_token(self, session: SessionData) -> str:
        return hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: SessionData, header: str | None, cookie: str | None) -> bool:
        """Double submit: the header equals the cookie, and both are the token of this very session."""
        if not header or not cookie:
            return False
        expected = self.csrf_token(session)
        return hmac.compare_digest(header, cookie) and hmac.compare_digest(header, expected)
