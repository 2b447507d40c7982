from __future__ import annotations

import base64
import secrets

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.db import sealed_columns
from qualifica.security.crypto import DecryptionError, KeyRing, associated_data, unseal
from qualifica.security.rotation import rotate_all
from qualifica.whatsapp.models import WhatsAppConnection
from tests.support.connections import make_connection


def key() -> bytes:
    return secrets.token_bytes(32)


AAD = associated_data("whatsapp_connections", "access_token", "row-1")


class TestKeyRing:
    def test_round_trip(self) -> None:
        ring = KeyRing.from_pairs([("k1", key())])
        stored = ring.encrypt("EAAGm0PX4ZCpsBA", AAD)
        assert "EAAGm0PX4ZCpsBA" not in stored
        assert stored.startswith("v1:k1:")
        assert ring.decrypt(stored, AAD) == "EAAGm0PX4ZCpsBA"

    def test_each_encryption_uses_a_fresh_nonce(self) -> None:
        ring = KeyRing.from_pairs([("k1", key())])
        assert ring.encrypt("same", AAD) != ring.encrypt("same", AAD)

    def test_tampered_ciphertext_is_refused(self) -> None:
        ring = KeyRing.from_pairs([("k1", key())])
        version, kid, payload = ring.encrypt("token", AAD).split(":")
        raw = bytearray(base64.urlsafe_b64decode(payload))
        raw[-1] ^= 0x01
        with pytest.raises(DecryptionError, match="authentication failed"):
            ring.decrypt(f"{version}:{kid}:{base64.urlsafe_b64encode(bytes(raw)).decode()}", AAD)

    def test_value_moved_to_another_row_is_refused(self) -> None:
        ring = KeyRing.from_pairs([("k1", key())])
        stored = ring.encrypt("token", AAD)
        with pytest.raises(DecryptionError):
            ring.decrypt(stored, associated_data("whatsapp_connections", "access_token", "row-2"))
        with pytest.raises(DecryptionError):
            ring.decrypt(stored, associated_data("whatsapp_connections", "registration_pin", "row-1"))

    def test_wrong_key_with_the_same_id_is_refused(self) -> None:
        stored = KeyRing.from_pairs([("k1", key())]).encrypt("token", AAD)
        with pytest.raises(DecryptionError, match="authentication failed"):
            KeyRing.from_pairs([("k1", key())]).decrypt(stored, AAD)

    def test_unknown_key_id_is_refused(self) -> None:
        stored = KeyRing.from_pairs([("old", key())]).encrypt("token", AAD)
        with pytest.raises(DecryptionError, match="no key with id 'old'"):
            KeyRing.from_pairs([("new", key())]).decrypt(stored, AAD)

    @pytest.mark.parametrize("garbage", ["", "plaintext", "v1:k1:@@@", "v2:k1:AAAA", "v1:k1:" + "A" * 8])
    def test_garbage_is_refused_never_returned(self, garbage: str) -> None:
        with pytest.raises(DecryptionError):
            KeyRing.from_pairs([("k1", key())]).decrypt(garbage, AAD)

    def test_older_keys_still_decrypt_after_a_new_primary(self) -> None:
        old = key()
        stored = KeyRing.from_pairs([("old", old)]).encrypt("token", AAD)
        ring = KeyRing.from_pairs([("new", key()), ("old", old)])
        assert ring.decrypt(stored, AAD) == "token"
        assert ring.needs_rotation(stored)


class TestRotation:
    async def test_rotation_re_encrypts_every_secret_to_the_primary_key(
        self, app: FastAPI, db: AsyncSession
    ) -> None:
        old_key = key()
        old_ring = KeyRing.from_pairs([("old", old_key)])
        connection = await make_connection(
            db, app, waba_id="524126980791429", token="EAAtoken-one", pin="581063", ring=old_ring
        )
        new_ring = KeyRing.from_pairs([("new", key()), ("old", old_key)])

        connection_id = connection.id
        report = await rotate_all(app.state.sessionmaker, new_ring)

        assert report.rotated == 2
        db.expire_all()
        stored = await db.get_one(WhatsAppConnection, connection_id)
        assert new_ring.key_id_of(stored.access_token or "") == "new"
        assert unseal(new_ring, stored, "access_token") == "EAAtoken-one"
        assert unseal(new_ring, stored, "registration_pin") == "581063"
        # The retired key alone can no longer read it: rotation really replaced the ciphertext.
        with pytest.raises(DecryptionError):
            unseal(old_ring, stored, "access_token")

    async def test_rotation_is_resumable_and_idempotent(self, app: FastAPI, db: AsyncSession) -> None:
        old_key = key()
        old_ring = KeyRing.from_pairs([("old", old_key)])
        await make_connection(
            db, app, waba_id="524126980791429", token="EAAtoken-two", pin="581063", ring=old_ring
        )
        new_ring = KeyRing.from_pairs([("new", key()), ("old", old_key)])

        await rotate_all(app.state.sessionmaker, new_ring)
        again = await rotate_all(app.state.sessionmaker, new_ring)

        assert (again.rotated, again.already_current) == (0, 2)

    def test_rotation_walks_every_column_marked_sealed(self) -> None:
        import qualifica.models  # noqa: F401

        walked = {f"{table.name}.{column.name}" for table, column in sealed_columns()}

        assert walked == {
            "whatsapp_connections.access_token",
            "whatsapp_connections.registration_pin",
            "embedded_signup_attempts.access_token",
            "embedded_signup_attempts.registration_pin",
            "invitations.token",
        }
