"""argon2id password hashing, run off the event loop: one hash costs tens of milliseconds of CPU."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id with OWASP's first recommended configuration (19 MiB, 2 passes, 1 lane). The library's default
# (RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes) cost about 4x the CPU per sign-in on a two-core
# server, where four lanes cannot run at once, for no gain an attacker's hardware would notice. Hashes keep
# their parameters, so hashes made with the old profile still verify.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the account does not exist, so an unknown email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("artboard-timing-equaliser")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(_verify, password_hash or _DUMMY_HASH, password) and password_hash is not None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
