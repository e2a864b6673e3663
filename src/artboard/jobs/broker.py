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

from artboard.config import ConfigError, Settings, missing_for_broker
from artboard.kit.pubsub import PubSub


class Broker(Protocol):
    async def announce(self, job_ids: Sequence[str]) -> None:
        """Called after the commit that queued these jobs."""

    async def wait(self, timeout_s: float) -> None:
        """Return when something was announced, or after ``timeout_s`` (workers then look anyway)."""

    async def close(self) -> None: ...


def build_broker(settings: Settings, pubsub: PubSub, redis: Redis | None, consumer: str) -> Broker:
    """The broker ``ARTBOARD_BROKER`` names; ``consumer`` names this process's worker to it (its worker id)."""
    if settings.broker == "redis":
        from artboard.jobs.broker_redis import RedisBroker

        if redis is None:
            raise ConfigError(missing_for_broker(settings))
        return RedisBroker(
            redis,
            settings.redis_stream,
            consumer,
            read_count=settings.max_concurrent_tasks,
            stalled_after_s=settings.job_lease_s,
        )
    if settings.broker == "azure":
        from artboard.jobs.broker_azure import AzureQueueBroker, queue_client

        if not settings.azure_storage_connection_string:
            raise ConfigError(missing_for_broker(settings))
        client = queue_client(settings.azure_storage_connection_string, settings.azure_queue_name)
        return AzureQueueBroker(client, visibility_s=settings.job_lease_s)
    from artboard.jobs.broker_embedded import EmbeddedBroker

    return EmbeddedBroker(pubsub)
