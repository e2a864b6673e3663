"""Fixed-window failure counters for login throttling, in memory or in Redis (shared by all instances)."""

from __future__ import annotations

import time
from typing import Protocol

from redis.asyncio import Redis


class FailureCounter(Protocol):
    async def retry_after(self, key: str, limit: int) -> int:
        """Seconds until ``key`` may try again, or 0 when it is under ``limit`` failures."""

    async def record(self, key: str, window_s: int) -> None: ...

    async def reset(self, key: str) -> None: ...


class MemoryFailureCounter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}

    async def retry_after(self, key: str, limit: int) -> int:
        count, reset_at = self._windows.get(key, (0, 0.0))
        remaining = reset_at - time.monotonic()
        if remaining <= 0:
            self._windows.pop(key, None)
            return 0
        return max(1, int(remaining + 0.999)) if count >= limit else 0

    async def record(self, key: str, window_s: int) -> None:
        now = time.monotonic()
        count, reset_at = self._windows.get(key, (0, now + window_s))
        if reset_at <= now:
            count, reset_at = 0, now + window_s
        self._windows[key] = (count + 1, reset_at)
        if len(self._windows) > 100_000:
            self._drop_expired(now)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def _drop_expired(self, now: float) -> None:
        for stale in [k for k, (_, reset_at) in self._windows.items() if reset_at <= now]:
            del self._windows[stale]


class RedisFailureCounter:
    def __init__(self, redis: Redis, prefix: str = "artboard:login-failures:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def retry_after(self, key: str, limit: int) -> int:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._prefix + key)
            pipe.ttl(self._prefix + key)
            count, ttl = await pipe.execute()
        if count is None or int(count) < limit:
            return 0
        return max(1, int(ttl))

    async def record(self, key: str, window_s: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._prefix + key)
            pipe.expire(self._prefix + key, window_s, nx=True)
            await pipe.execute()

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)
