"""The Redis broker: wake-ups naming job ids on a Redis stream, read by the workers through one consumer group.

Each entry goes to one worker (the group hands it out once), so N announced jobs wake up to N workers instead
of all of them. An entry stays pending until its worker has looked at the queue: it is acknowledged, in a
batch with the others, on the worker's next ``wait``. Entries left pending by a worker that died are taken
over (``XAUTOCLAIM``) by a live one once they have been idle for ``stalled_after_s``, so no wake-up is lost;
that worker's consumer is deleted once it holds nothing and has been silent for an hour. The stream is capped
(``MAXLEN ~``): it carries wake-ups, not the queue, which is the jobs table.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

log = logging.getLogger("artboard.broker")

GROUP = "artboard-workers"
# Entries kept in the stream (approximately): far more than the wake-ups waiting at any moment.
MAX_ENTRIES = 10_000
# A consumer holding nothing and silent this long belonged to a worker that is gone.
FORGET_CONSUMER_MS = 3_600_000


class RedisBroker:
    def __init__(self, redis: Redis, stream: str, consumer: str, *, read_count: int, stalled_after_s: float) -> None:
        self._redis = redis
        self._stream = stream
        self._consumer = consumer
        self._read_count = max(1, read_count)
        self._stalled_after_ms = max(1, int(stalled_after_s * 1000))
        self._held: list[bytes] = []  # delivered here, acknowledged on the next wait
        self._group_ready = False
        self._reclaimed_at = 0.0

    async def announce(self, job_ids: Sequence[str]) -> None:
        """One entry per job, so several workers wake; an empty announcement (resume) still wakes one."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids or [""]:
                pipe.xadd(self._stream, {"job": job_id}, maxlen=MAX_ENTRIES, approximate=True)
            await pipe.execute()

    async def wait(self, timeout_s: float) -> None:
        try:
            await self._acknowledge()
            await self._ensure_group()
            if not await self._reclaim_stalled():
                await self._read(timeout_s)
        except RedisError as exc:
            # The worker still looks at the queue every timeout_s; the stream is only its wake-up call.
            log.warning("redis broker: %s; looking at the queue without wake-ups for now", exc)
            self._group_ready = False
            await asyncio.sleep(timeout_s)

    async def close(self) -> None:
        """Acknowledge what was handled and leave the group (nothing is pending after the acknowledgement)."""
        if not self._group_ready:
            return
        try:
            await self._acknowledge()
            await self._redis.xgroup_delconsumer(self._stream, GROUP, self._consumer)
        except RedisError as exc:
            log.warning("redis broker: could not leave the consumer group: %s", exc)

    async def _ensure_group(self) -> None:
        """Create the group once; from id 0 so wake-ups announced before any worker started are read too."""
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _read(self, timeout_s: float) -> None:
        response: Any = await self._redis.xreadgroup(
            GROUP,
            self._consumer,
            {self._stream: ">"},
            count=self._read_count,
            block=max(1, int(timeout_s * 1000)),
        )
        for _stream, entries in response or []:
            self._held += [entry_id for entry_id, _fields in entries]

    async def _acknowledge(self) -> None:
        if self._held:
            await self._redis.xack(self._stream, GROUP, *self._held)
            self._held.clear()

    async def _reclaim_stalled(self) -> bool:
        """Every ``stalled_after_s``: take over entries idle that long (their worker died), and forget
        consumers that hold nothing and have been silent for an hour. True when something was taken over."""
        now = asyncio.get_running_loop().time()
        if now - self._reclaimed_at < self._stalled_after_ms / 1000:
            return False
        self._reclaimed_at = now
        taken: list[bytes] = await self._redis.xautoclaim(  # with justid, redis-py answers the ids alone
            self._stream, GROUP, self._consumer, self._stalled_after_ms, start_id="0-0", count=100, justid=True
        )
        for consumer in await self._redis.xinfo_consumers(self._stream, GROUP):
            if consumer["pending"] == 0 and consumer["idle"] > FORGET_CONSUMER_MS:
                await self._redis.xgroup_delconsumer(self._stream, GROUP, consumer["name"])
        if taken:
            log.info("redis broker: took over %d wake-ups left by a stopped worker", len(taken))
            self._held += taken
        return bool(taken)
