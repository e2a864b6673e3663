"""Key sessions: a user's decrypted provider keys, held for a while after they gave their vault password.

In memory (one process), or in Redis sealed with the server key (``ServerKey``), so every instance and every
worker sharing Redis and ``SECRET_KEY`` can use a session opened anywhere; Redis never holds a key in clear,
and holds a session id only as its SHA-256. Expired sessions are unusable at once and removed by ``sweep``
(Redis drops their data by itself; the sweep trims the index the counts are read from).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from redis.asyncio import Redis

from artboard.models.base import utcnow
from artboard.vault.crypto import CannotOpen, ServerKey

# Sessions one user may hold at once; opening another ends their oldest (each holds decrypted keys: a client
# that opens one per request would otherwise pile them up for a day).
MAX_SESSIONS_PER_USER = 20


@dataclass(frozen=True)
class KeySession:
    owner_id: str
    keys: dict[str, str]  # provider -> decrypted key
    expires_at: datetime


@dataclass(frozen=True)
class SessionCounts:
    active: int  # not yet expired
    total: int  # held, expired ones included until the next sweep


class SessionStore(Protocol):
    async def put(self, session_id: str, session: KeySession) -> None:
        """Hold the session; past ``MAX_SESSIONS_PER_USER`` of its owner's, the ones ending soonest end now."""

    async def get(self, session_id: str) -> KeySession | None:
        """The session while it lasts; None once it expired or ended, or if it never was."""

    async def delete(self, session_id: str, owner_id: str) -> bool:
        """End the session if ``owner_id`` owns it and it lasts; whether it did."""

    async def end_all(self, owner_id: str) -> None:
        """End every session of the owner."""

    async def has_session(self, owner_id: str) -> bool:
        """Whether the owner has a session that lasts."""

    async def counts(self) -> SessionCounts: ...

    async def sweep(self) -> int:
        """Forget expired sessions; how many were forgotten."""


class MemorySessionStore:
    def __init__(self) -> None:
        self._sessions: dict[str, KeySession] = {}

    async def put(self, session_id: str, session: KeySession) -> None:
        self._sessions[session_id] = session
        owned = sorted((s.expires_at, i) for i, s in self._sessions.items() if s.owner_id == session.owner_id)
        for _, oldest in owned[:-MAX_SESSIONS_PER_USER]:
            del self._sessions[oldest]

    async def get(self, session_id: str) -> KeySession | None:
        session = self._sessions.get(session_id)
        return session if session is not None and session.expires_at > utcnow() else None

    async def delete(self, session_id: str, owner_id: str) -> bool:
        session = await self.get(session_id)
        if session is None or session.owner_id != owner_id:
            return False
        del self._sessions[session_id]
        return True

    async def end_all(self, owner_id: str) -> None:
        for session_id in [i for i, s in self._sessions.items() if s.owner_id == owner_id]:
            del self._sessions[session_id]

    async def has_session(self, owner_id: str) -> bool:
        now = utcnow()
        return any(s.owner_id == owner_id and s.expires_at > now for s in self._sessions.values())

    async def counts(self) -> SessionCounts:
        now = utcnow()
        return SessionCounts(sum(s.expires_at > now for s in self._sessions.values()), len(self._sessions))

    async def sweep(self) -> int:
        now = utcnow()
        expired = [i for i, s in self._sessions.items() if s.expires_at <= now]
        for session_id in expired:
            del self._sessions[session_id]
        return len(expired)


class RedisSessionStore:
    """``session:<sha256 of id>`` holds the sealed session and expires with it; ``sessions`` and ``owner:<id>``
    are sorted sets of those digests scored by expiry (milliseconds), for counts and per-user lookups."""

    def __init__(self, redis: Redis, key: ServerKey, prefix: str = "artboard:vault:") -> None:
        self._redis = redis
        self._key = key
        self._prefix = prefix

    async def put(self, session_id: str, session: KeySession) -> None:
        digest = _digest(session_id)
        expires_ms = _ms(session.expires_at)
        payload = json.dumps({"owner_id": session.owner_id, "keys": session.keys, "expires_at": expires_ms})
        owner = self._owner_key(session.owner_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._data_key(digest), self._key.seal(payload.encode(), digest.encode()), pxat=expires_ms)
            pipe.zadd(self._index_key, {digest: expires_ms})
            pipe.zremrangebyscore(owner, "-inf", _ms(utcnow()))
            pipe.zadd(owner, {digest: expires_ms})
            pipe.zrange(owner, 0, -(MAX_SESSIONS_PER_USER + 1))
            pipe.zrange(owner, -1, -1, withscores=True)
            *_, beyond, latest = await pipe.execute()
        # The owner's set lives as long as their longest session.
        await self._redis.pexpireat(owner, int(latest[0][1]))
        if beyond:
            await self._forget(session.owner_id, _names(beyond))

    async def get(self, session_id: str) -> KeySession | None:
        digest = _digest(session_id)
        sealed = await self._redis.get(self._data_key(digest))
        if not isinstance(sealed, bytes):
            return None
        try:
            data = json.loads(self._key.open(sealed, digest.encode()))
        except CannotOpen:
            return None  # sealed under another secret: not a session of this deployment
        expires_at = datetime.fromtimestamp(data["expires_at"] / 1000, UTC)
        return KeySession(data["owner_id"], data["keys"], expires_at) if expires_at > utcnow() else None

    async def delete(self, session_id: str, owner_id: str) -> bool:
        session = await self.get(session_id)
        if session is None or session.owner_id != owner_id:
            return False
        await self._forget(owner_id, [_digest(session_id)])
        return True

    async def end_all(self, owner_id: str) -> None:
        digests = _names(await self._redis.zrange(self._owner_key(owner_id), 0, -1))
        if digests:
            await self._forget(owner_id, digests)

    async def has_session(self, owner_id: str) -> bool:
        return int(await self._redis.zcount(self._owner_key(owner_id), f"({_ms(utcnow())}", "+inf")) > 0

    async def counts(self) -> SessionCounts:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zcount(self._index_key, f"({_ms(utcnow())}", "+inf")
            pipe.zcard(self._index_key)
            active, total = await pipe.execute()
        return SessionCounts(int(active), int(total))

    async def sweep(self) -> int:
        return int(await self._redis.zremrangebyscore(self._index_key, "-inf", _ms(utcnow())))

    async def _forget(self, owner_id: str, digests: list[str]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(*[self._data_key(d) for d in digests])
            pipe.zrem(self._index_key, *digests)
            pipe.zrem(self._owner_key(owner_id), *digests)
            await pipe.execute()

    @property
    def _index_key(self) -> str:
        return self._prefix + "sessions"

    def _data_key(self, digest: str) -> str:
        return f"{self._prefix}session:{digest}"

    def _owner_key(self, owner_id: str) -> str:
        return f"{self._prefix}owner:{owner_id}"


def _names(members: list[Any]) -> list[str]:
    """Sorted-set members as Redis gives them back (bytes) as the digests they are."""
    return [m.decode() if isinstance(m, bytes) else str(m) for m in members]


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def build_session_store(redis: Redis | None, key: ServerKey) -> SessionStore:
    return RedisSessionStore(redis, key) if redis is not None else MemorySessionStore()
