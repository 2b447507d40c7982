"""AES-256-GCM for secrets at rest: random 96-bit nonce, row-bound associated data, key id in the value.

Stored form: ``v1:<kid>:<base64url(nonce || ciphertext+tag)>``. The associated data names the table,
column and row, so a ciphertext copied to another row or column fails to decrypt instead of leaking.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """The value was tampered with, belongs elsewhere, or its key is not in the ring."""


def associated_data(table: str, column: str, row_id: object) -> bytes:
    return f"{table}.{column}:{row_id}".encode()


def generate_key() -> str:
    """A new 256-bit key in the ``QUALIFICA_ENCRYPTION_KEYS`` value form (standard base64)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class KeyRing:
    """Keys by id; the first one encrypts, every one decrypts (so rotation can be gradual)."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("the key ring is empty: set QUALIFICA_ENCRYPTION_KEYS")

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, bytes]]) -> KeyRing:
        return cls(tuple(pairs))

    @property
    def primary_kid(self) -> str:
        return self.keys[0][0]

    def _key(self, kid: str) -> bytes:
        for candidate, key in self.keys:
            if candidate == kid:
                return key
        raise DecryptionError(f"no key with id '{kid}' in the key ring")

    def encrypt(self, plaintext: str, aad: bytes) -> str:
        kid, key = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), aad)
        return f"{VERSION}:{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, aad: bytes) -> str:
        version, kid, payload = self._split(stored)
        try:
            raw = base64.urlsafe_b64decode(payload.encode())
        except ValueError:
            raise DecryptionError("the stored value is not valid base64") from None
        if version != VERSION or len(raw) < NONCE_BYTES + 16:
            raise DecryptionError("the stored value is not a v1 ciphertext")
        try:
            return AESGCM(self._key(kid)).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad).decode()
        except InvalidTag:
            raise DecryptionError("authentication failed: tampered value, wrong key or wrong row") from None

    def key_id_of(self, stored: str) -> str:
        return self._split(stored)[1]

    def needs_rotation(self, stored: str) -> bool:
        return self.key_id_of(stored) != self.primary_kid

    @staticmethod
    def _split(stored: str) -> tuple[str, str, str]:
        parts = stored.split(":", 2)
        if len(parts) != 3:
            raise DecryptionError("the stored value is not a ciphertext")
        return parts[0], parts[1], parts[2]


def seal(ring: KeyRing, row: object, column: str, plaintext: str) -> str:
    """Encrypt a value for ``row.column`` (the row gets its id now, since the id is bound in)."""
    if getattr(row, "id", None) is None:
        import uuid

        row.id = uuid.uuid4()  # type: ignore[attr-defined]
    return ring.encrypt(plaintext, associated_data(_table(row), column, row.id))  # type: ignore[attr-defined]


def unseal(ring: KeyRing, row: object, column: str) -> str | None:
    stored = getattr(row, column)
    if stored is None:
        return None
    return ring.decrypt(stored, associated_data(_table(row), column, row.id))  # type: ignore[attr-defined]


def _table(row: object) -> str:
    table: str = row.__tablename__  # type: ignore[attr-defined]
    return table
