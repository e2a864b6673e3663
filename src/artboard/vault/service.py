"""The key vault: a user's provider keys sealed under a password only they know, and key sessions that hold
the decrypted keys for a while so jobs can call the providers.

Not zero-knowledge (seed 001 called it that): the server sees the password and the keys whenever a user sets
them up or opens a session, and holds the decrypted keys while a session lasts. What it protects is the keys
at rest: a copy of the database (or a backup) alone does not reveal them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from artboard.auth.service import LoginLimits
from artboard.db import after_commit
from artboard.errors import AuthenticationFailed, Conflict, NotFound, RateLimited
from artboard.kit.ratelimit import FailureCounter, PasswordAttempts
from artboard.models.base import utcnow
from artboard.vault import repository
from artboard.vault.crypto import CannotOpen, seal, unseal
from artboard.vault.sessions import KeySession, SessionCounts, SessionStore

log = logging.getLogger("artboard.vault")

Provider = Literal["fal", "openai"]
# A derivation keeps a core busy for a few hundred milliseconds: at most half the cores derive at once, so
# a burst of vault requests cannot starve image work or the event loop's threads.
KDF_SLOTS = max(1, (os.cpu_count() or 2) // 2)


@dataclass(frozen=True)
class TokenStatus:
    has_token: bool
    has_active_session: bool

    @property
    def requires_login(self) -> bool:
        """Seed 001: keys are stored but no session is open, so the user must give their password again."""
        return self.has_token and not self.has_active_session


@dataclass(frozen=True)
class OpenedSession:
    session_id: str
    expires_at: datetime


class Vault:
    def __init__(
        self,
        sessions: SessionStore,
        failures: FailureCounter,
        limits: LoginLimits,
        session_ttl: timedelta,
        iterations: int,
    ) -> None:
        self._sessions = sessions
        self._attempts = PasswordAttempts(failures, limits.per_account, limits.per_ip, limits.window_s)
        self._session_ttl = session_ttl
        self._iterations = iterations
        self._kdf = asyncio.Semaphore(KDF_SLOTS)

    async def setup(self, db: AsyncSession, owner_id: str, password: str, keys: Mapping[Provider, str]) -> None:
        """Seal ``keys`` under ``password``, replacing every key stored before (one password opens the vault).
        Sessions holding the old keys end once this commits."""
        sealed: dict[str, str] = {
            provider: await self._derive(partial(seal, key, password, self._iterations))
            for provider, key in keys.items()
        }
        try:
            await repository.replace_keys(db, owner_id, sealed)
        except IntegrityError:
            raise Conflict("The keys are being set up by another request; try again.") from None
        after_commit(db, partial(self._sessions.end_all, owner_id))

    async def verify(self, db: AsyncSession, owner_id: str, password: str, client_ip: str) -> tuple[bool, bool]:
        """Whether keys are stored, and whether ``password`` decrypts them (a wrong one counts as a failure)."""
        sealed = await repository.sealed_keys(db, owner_id)
        if not sealed:
            return False, False
        return True, await self._open(owner_id, client_ip, password, sealed) is not None

    async def open_session(self, db: AsyncSession, owner_id: str, password: str, client_ip: str) -> OpenedSession:
        """Decrypt the keys and hold them for the session lifetime under a new session id."""
        sealed = await repository.sealed_keys(db, owner_id)
        if not sealed:
            raise NotFound("No provider keys are stored: set them up with POST /api/custom/tokens/setup first.")
        keys = await self._open(owner_id, client_ip, password, sealed)
        if keys is None:
            raise AuthenticationFailed("Wrong vault password: it does not decrypt the stored provider keys.")
        opened = OpenedSession(str(uuid.uuid4()), utcnow() + self._session_ttl)
        await self._sessions.put(opened.session_id, KeySession(owner_id, keys, opened.expires_at))
        return opened

    async def end_session(self, owner_id: str, session_id: str) -> None:
        if not await self._sessions.delete(session_id, owner_id):
            raise NotFound("No open key session of yours has this id.")

    async def status(self, db: AsyncSession, owner_id: str) -> TokenStatus:
        return TokenStatus(await repository.has_keys(db, owner_id), await self._sessions.has_session(owner_id))

    async def provider_key(self, session_id: str, owner_id: str, provider: Provider) -> str | None:
        """The decrypted key for ``provider`` from an open session of ``owner_id``; None for another user's
        session, an ended or expired one, or a provider the user stored no key for."""
        session = await self._sessions.get(session_id)
        if session is None or session.owner_id != owner_id:
            return None
        return session.keys.get(provider)

    async def session_counts(self) -> SessionCounts:
        return await self._sessions.counts()

    async def sweep_loop(self, interval_s: float) -> None:
        """Forget expired sessions every ``interval_s`` until cancelled; a failed round is logged, never fatal."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                if removed := await self._sessions.sweep():
                    log.info("vault: forgot %d expired key sessions", removed)
            except Exception:
                log.exception("vault session sweep failed")

    async def _open(
        self, owner_id: str, client_ip: str, password: str, sealed: dict[str, str]
    ) -> dict[str, str] | None:
        """The decrypted keys, or None for a wrong password. Attempts are throttled like sign-ins (per user and
        per address, counted before the check so parallel guesses cannot slip through); success takes its back."""
        account_key, ip_key = f"vault:{owner_id}", f"vault-ip:{client_ip}"
        wait = await self._attempts.count(account_key, ip_key)
        if wait:
            raise RateLimited(f"Too many wrong vault passwords. Try again in {wait} seconds.", retry_after=wait)
        try:
            keys = {provider: await self._derive(partial(unseal, text, password)) for provider, text in sealed.items()}
        except CannotOpen:
            return None
        await self._attempts.succeeded(account_key, ip_key)
        return keys

    async def _derive(self, work: Callable[[], str]) -> str:
        """Run a PBKDF2 derivation (``seal`` or ``unseal``) in a thread, a few at a time."""
        async with self._kdf:
            return await asyncio.to_thread(work)
