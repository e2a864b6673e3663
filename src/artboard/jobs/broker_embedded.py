"""The embedded broker: the queue is the jobs table; new work is announced on the pub/sub channel
``jobs:ready`` (in this process, or through Redis to every instance when Redis is configured)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from artboard.kit.pubsub import PubSub, Subscription

CHANNEL = "jobs:ready"


class EmbeddedBroker:
    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub
        self._subscription: Subscription | None = None

    async def announce(self, job_ids: Sequence[str]) -> None:
        await self._pubsub.publish(CHANNEL, ",".join(job_ids))

    async def wait(self, timeout_s: float) -> None:
        if self._subscription is None or self._subscription.lost:
            missed = self._subscription is not None  # cut off while nobody read it: announcements went unheard
            self._subscription = await self._pubsub.subscribe(CHANNEL)
            if missed:
                return  # the caller looks at the queue now rather than after the timeout
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):  # not wait_for: it can swallow a cancellation on 3.11
                await self._subscription.get()
        self._subscription.discard_pending()  # one look at the queue answers every announcement so far

    async def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
