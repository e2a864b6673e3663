"""Key session stores, in memory and in Redis, hold at most MAX_SESSIONS_PER_USER sessions of one user."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from artboard.models.base import utcnow
from artboard.vault.crypto import ServerKey
from artboard.vault.sessions import (
    MAX_SESSIONS_PER_USER,
    KeySession,
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
)
from tests.support import REDIS_URL


@asynccontextmanager
async def store_of(kind: str) -> AsyncIterator[SessionStore]:
    if kind == "memory":
        yield MemorySessionStore()
        return
    redis = Redis.from_url(REDIS_URL)
    prefix = f"test:vault:{uuid.uuid4().hex}:"
    try:
        yield RedisSessionStore(redis, ServerKey("s" * 48, "vault sessions"), prefix=prefix)
    finally:
        keys = [key async for key in redis.scan_iter(f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def run(kind: str, scenario: Callable[[SessionStore], Awaitable[None]]) -> None:
    async def main() -> None:
        async with store_of(kind) as store:
            await scenario(store)

    asyncio.run(main())


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_opening_one_session_too_many_ends_the_users_oldest(kind: str) -> None:
    async def scenario(store: SessionStore) -> None:
        now = utcnow()

        def session(owner_id: str, minutes: int) -> KeySession:
            return KeySession(owner_id, {"fal": "key"}, now + timedelta(minutes=minutes))

        await store.put("someone-else", session("other", 1))  # ends first of all, but is not this user's
        for minute in range(MAX_SESSIONS_PER_USER):
            await store.put(f"mine-{minute}", session("me", 10 + minute))
        assert await store.get("mine-0") is not None  # at the cap: nothing ended yet
        await store.put("one-more", session("me", 60))
        assert await store.get("mine-0") is None, "the session ending soonest made room"
        assert all([await store.get(f"mine-{minute}") is not None for minute in range(1, MAX_SESSIONS_PER_USER)])
        assert await store.get("one-more") is not None
        assert await store.get("someone-else") is not None
        assert (await store.counts()).active == MAX_SESSIONS_PER_USER + 1

    run(kind, scenario)
