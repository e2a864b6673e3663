"""First run, as PocketBase does it: on a server with no admin yet, ``artboard serve`` prints a one-time link
that opens the studio's create-the-first-admin form.

The link carries a random token (32 bytes, URL-safe) in its fragment (``/#first-run=<token>``), which browsers
never send to a server or put in a Referer. Only its SHA-256 digest and expiry are kept, in the memory of
the serving process (and, for ``--workers N``, in the environment its worker processes inherit), never on
disk or in the database: a restart prints a new link and the old one stops working. A token works once, for
``TOKEN_LIFETIME_S``, and only while no admin exists: the admin it created ends every other copy's use.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from artboard.auth import repository
from artboard.auth.service import Accounts
from artboard.errors import AuthenticationFailed, Conflict
from artboard.models import User

TOKEN_LIFETIME_S = 3600
ENVIRONMENT = "ARTBOARD_FIRST_RUN_DIGEST"  # "<sha256 hex>:<expiry, unix seconds>" for worker processes
INVALID = "This first-run link is not valid or has expired. Restart `artboard serve` for a new one."
ADMIN_EXISTS = "This server already has an admin: sign in instead."


@dataclass
class _Ticket:
    digest: bytes
    expires_at: float


class FirstRunTokens:
    """The one first-run token of this process: issued by ``artboard serve``, redeemed once."""

    def __init__(self) -> None:
        self._ticket: _Ticket | None = None
        self._spent = False
        self._lock = asyncio.Lock()

    def issue(self, lifetime_s: float = TOKEN_LIFETIME_S) -> str:
        """A new token (replacing any earlier one); its digest is also exported for worker processes."""
        token = secrets.token_urlsafe(32)
        self._ticket = _Ticket(hashlib.sha256(token.encode()).digest(), time.time() + lifetime_s)
        self._spent = False
        os.environ[ENVIRONMENT] = f"{self._ticket.digest.hex()}:{self._ticket.expires_at:.0f}"
        return token

    def valid(self, token: str) -> bool:
        ticket = self._current()
        if ticket is None or self._spent or time.time() >= ticket.expires_at:
            return False
        return hmac.compare_digest(hashlib.sha256(token.encode()).digest(), ticket.digest)

    def spend(self) -> None:
        self._spent = True
        os.environ.pop(ENVIRONMENT, None)

    def _current(self) -> _Ticket | None:
        if self._ticket is None and not self._spent and (exported := os.environ.get(ENVIRONMENT)):
            digest, _, expiry = exported.partition(":")
            try:
                self._ticket = _Ticket(bytes.fromhex(digest), float(expiry))
            except ValueError:
                return None
        return self._ticket


TOKENS = FirstRunTokens()


async def create_first_admin(
    db: AsyncSession,
    accounts: Accounts,
    token: str,
    email: str,
    password: str,
    username: str | None,
    tokens: FirstRunTokens = TOKENS,
) -> User:
    """Create the first admin with the first-run token; the token is spent once the admin exists."""
    async with tokens._lock:
        if not tokens.valid(token):
            raise AuthenticationFailed(INVALID)
        if await repository.admin_exists(db):
            tokens.spend()
            raise Conflict(ADMIN_EXISTS)
        user = await accounts.register(db, email, password, username=username, role="admin")
        tokens.spend()
        return user


async def needs_first_admin(database_url: str) -> bool:
    """Whether the database at ``database_url`` has no admin yet (for ``artboard serve``'s announcement)."""
    from artboard.db import create_engine, session_factory

    engine = create_engine(database_url, pooled=False)
    try:
        async with session_factory(engine)() as db:
            return not await repository.admin_exists(db)
    finally:
        await engine.dispose()
