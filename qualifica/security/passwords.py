"""argon2id password hashes, computed off the event loop.

One hash costs ~100 ms of CPU and 64 MiB: run on the loop, ten anonymous logins a second would stall every
other request (webhooks, callbacks). argon2-cffi releases the GIL while hashing, so a few worker threads keep
the loop free; the pool's size bounds how many hashes run at once (memory and CPU), the rest queue.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MAX_CONCURRENT_HASHES = max(2, min(4, os.cpu_count() or 1))

_hasher = PasswordHasher()
# Threads start on first use, not at import.
_pool = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_HASHES, thread_name_prefix="argon2")


@cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both paths cost the same and reveal nothing."""
    return _hasher.hash("qualifica-timing-equaliser")


def hash_password_sync(password: str) -> str:
    """Blocks for the whole hash: never call it on the event loop (use ``hash_password``)."""
    return _hasher.hash(password)


def verify_password_sync(password_hash: str | None, password: str) -> bool:
    """Blocks for the whole hash: never call it on the event loop (use ``verify_password``)."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password_sync, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(
        _pool, verify_password_sync, password_hash, password
    )
