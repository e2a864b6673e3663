"""Who a verified token belongs to, and a short-lived cache of verified tokens.

Checking a token costs a database round trip; most requests repeat a token seen a moment ago. A verified
token is remembered for a few seconds (``ARTBOARD_AUTH_CACHE_S``). Every change made through this process
(logout, password change, disable, refresh-token reuse, profile edits) drops the user's entries at once;
with Redis configured the change is announced to every other instance too (``RevocationBus``), otherwise
they see it within the cache lifetime. Set it to 0 to check every request. Tokens an identity provider
verified (``auth/identity_pocketbase.py``) are kept here too, under their hash, for that provider's lifetime.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from artboard.kit.pubsub import PubSub
from artboard.models import User

log = logging.getLogger("artboard.auth")

MAX_ENTRIES = 50_000


@dataclass(frozen=True)
class Principal:
    """A snapshot of the signed-in user, safe to keep between requests (no database session attached)."""

    id: str
    email: str
    username: str
    role: str
    disabled: bool
    gpu_endpoint: str | None
    created: datetime
    updated: datetime
    # What seed 000's check_auth names the user: the username, or what the identity provider calls them.
    client_id: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def of(cls, user: User, client_id: str | None = None) -> Principal:
        return cls(
            user.id,
            user.email,
            user.username,
            user.role,
            user.disabled,
            user.gpu_endpoint,
            user.created,
            user.updated,
            client_id or user.username,
        )


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    session_id: str
    collection_id: str
    generation: int
    fresh_until: float
    expires_at: float


class TokenCache:
    def __init__(self, lifetime_s: float) -> None:
        self.lifetime_s = lifetime_s
        self._entries: dict[str, _Entry] = {}
        self._generations: dict[str, int] = {}

    def get(self, token: str) -> _Entry | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        now = time.monotonic()
        if (
            entry.fresh_until < now
            or entry.expires_at < time.time()
            or entry.generation != self._generations.get(entry.principal.id, 0)
        ):
            self._entries.pop(token, None)
            return None
        return entry

    def generation(self, user_id: str) -> int:
        """Read before looking the user up: an entry stored from a read older than a revocation is void."""
        return self._generations.get(user_id, 0)

    def put(
        self,
        token: str,
        principal: Principal,
        session_id: str,
        collection_id: str,
        expires_at: float,
        generation: int,
        lifetime_s: float | None = None,
    ) -> None:
        """Remember a verified token for ``lifetime_s`` (the cache's own lifetime unless given)."""
        lifetime_s = self.lifetime_s if lifetime_s is None else lifetime_s
        if lifetime_s <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[token] = _Entry(
            principal, session_id, collection_id, generation, time.monotonic() + lifetime_s, expires_at
        )

    def forget_everyone(self) -> None:
        self._entries.clear()

    def forget_user(self, user_id: str) -> None:
        """Every cached token of the user is re-checked on its next use."""
        self._generations[user_id] = self._generations.get(user_id, 0) + 1


class RevocationBus:
    """Tells every instance sharing the pub/sub that a user's cached tokens are void (channel ``CHANNEL``).

    Without it, another instance keeps accepting a just-revoked token until its cache entry ages out.
    """

    CHANNEL = "auth:revoked"

    def __init__(self, pubsub: PubSub, cache: TokenCache) -> None:
        self._pubsub = pubsub
        self._cache = cache

    async def publish(self, user_id: str) -> None:
        await self._pubsub.publish(self.CHANNEL, user_id)

    async def listen(self) -> None:
        """Runs until cancelled, forgetting each announced user. When announcements may have been missed
        (a lost connection, a backlog), every cached token is checked again on its next use."""
        while True:
            async with await self._pubsub.subscribe(self.CHANNEL) as announcements:
                async for user_id in announcements:
                    self._cache.forget_user(user_id)
            if announcements.lost:
                log.warning("revocation announcements may have been missed; re-checking every cached token")
                self._cache.forget_everyone()
