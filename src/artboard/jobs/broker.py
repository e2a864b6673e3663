"""Brokers tell workers, on any machine, that jobs are waiting. They carry job ids only: the jobs table is
the truth, and a worker always claims from it, fairly across users (see ``repository.claim``). A lost or
repeated message therefore costs at most one empty claim, and a crashed worker's jobs come back through
their expired leases, whatever the broker.

Chosen by ``ARTBOARD_BROKER``: ``embedded`` (the default: announcements over the pub/sub, in memory or
Redis), ``redis`` (a Redis stream with a consumer group) or ``azure`` (an Azure Storage queue).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import Redis

from artboard.config import Settings
from artboard.kit.pubsub import PubSub


class Broker(Protocol):
    async def announce(self, job_ids: Sequence[str]) -> None:
        """Called after the commit that queued these jobs."""

    async def wait(self, timeout_s: float) -> None:
        """Return when something was announced, or after ``timeout_s`` (workers then look anyway)."""

    async def close(self) -> None: ...


def build_broker(settings: Settings, pubsub: PubSub, redis: Redis | None) -> Broker:
    if settings.broker == "embedded":
        from artboard.jobs.broker_embedded import EmbeddedBroker

        return EmbeddedBroker(pubsub)
    raise ValueError(f"ARTBOARD_BROKER={settings.broker} is not available in this version.")
