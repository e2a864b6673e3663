"""Fixed-window attempt counters for login throttling, in memory or in Redis (shared by all instances).

An attempt is counted before the password is checked, so a burst of parallel guesses cannot all slip
through while the first ones are still being verified; a success takes its own count back.
"""

from __future__ import annotations

import time
from typing import Protocol

from redis.asyncio import Redis


class FailureCounter(Protocol):
    async def hit(self, key: str, limit: int, window_s: int) -> int:
        """Count one attempt; returns 0 when it is within ``limit``, else the seconds until the window ends."""

    async def forgive(self, key: str) -> None:
        """Take one attempt back (it succeeded)."""

    async def reset(self, key: str) -> None: ...


class MemoryFailureCounter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}

    async def hit(self, key: str, limit: int, window_s: int) -> int:
        now = time.monotonic()
        count, reset_at = self._windows.get(key, (0, now + window_s))
        if reset_at <= now:
            count, reset_at = 0, now + window_s
        self._windows[key] = (count + 1, reset_at)
        if len(self._windows) > 100_000:
            self._drop_expired(now)
        return 0 if count < limit else max(1, int(reset_at - now + 0.999))

    async def forgive(self, key: str) -> None:
        count, reset_at = self._windows.get(key, (0, 0.0))
        if count > 0:
            self._windows[key] = (count - 1, reset_at)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def _drop_expired(self, now: float) -> None:
        for stale in [k for k, (_, reset_at) in self._windows.items() if reset_at <= now]:
            del self._windows[stale]


class RedisFailureCounter:
    def __init__(self, redis: Redis, prefix: str = "artboard:login-attempts:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key: str, limit: int, window_s: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._prefix + key)
            pipe.expire(self._prefix + key, window_s, nx=True)
            pipe.ttl(self._prefix + key)
            count, _, ttl = await pipe.execute()
        return 0 if int(count) <= limit else max(1, int(ttl))

    async def forgive(self, key: str) -> None:
        await self._redis.decr(self._prefix + key)

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)


class PasswordAttempts:
    """Password checks throttled per account and per client address (sign-in, the key vault): an attempt is
    counted before the check, and a success takes its count back."""

    def __init__(self, failures: FailureCounter, per_account: int, per_ip: int, window_s: int) -> None:
        self._failures = failures
        self._per_account = per_account
        self._per_ip = per_ip
        self._window_s = window_s

    async def count(self, account_key: str, ip_key: str) -> int:
        """Count one attempt; 0 when it may go ahead, else the seconds until it may. The address counts only
        attempts the account's limit lets through: in a burst against one account, an attempt the account
        refuses must not use up the address's room before the ones it lets through are counted there."""
        if wait := await self._failures.hit(account_key, self._per_account, self._window_s):
            return wait
        return await self._failures.hit(ip_key, self._per_ip, self._window_s)

    async def succeeded(self, account_key: str, ip_key: str) -> None:
        await self._failures.reset(account_key)
        await self._failures.forgive(ip_key)


def build_failure_counter(redis: Redis | None) -> FailureCounter:
    return RedisFailureCounter(redis) if redis is not None else MemoryFailureCounter()
