"""Pub/sub: what one subscriber publishes reaches every subscriber of the channel, in memory within a
process and over Redis across instances; nothing leaks between channels; a stalled subscriber is cut off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis

from artboard.kit.pubsub import QUEUE_LIMIT, MemoryPubSub, PubSub, RedisPubSub, Subscription
from tests.support import REDIS_URL


@asynccontextmanager
async def instances(kind: str, count: int) -> AsyncIterator[list[PubSub]]:
    """``count`` pub/subs that see each other: one shared memory hub, or Redis instances each with its own run loop."""
    if kind == "memory":
        shared = MemoryPubSub()
        yield [shared] * count
        return
    clients = [Redis.from_url(REDIS_URL) for _ in range(count)]
    buses: list[PubSub] = [RedisPubSub(client, prefix=f"artboard-test-{id(clients)}:") for client in clients]
    loops = [asyncio.create_task(bus.run()) for bus in buses]
    try:
        yield buses
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        for bus, client in zip(buses, clients, strict=True):
            await bus.close()
            await client.aclose()


async def next_message(subscription: Subscription) -> str:
    return await asyncio.wait_for(anext(aiter(subscription)), timeout=5)


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_a_message_reaches_every_subscriber_of_its_channel_only(kind: str) -> None:
    async def scenario() -> None:
        async with instances(kind, 2) as (a, b):
            on_a, on_b = await a.subscribe("user:1"), await b.subscribe("user:1")
            other = await b.subscribe("user:2")
            await a.publish("user:1", "hello")
            assert await next_message(on_a) == "hello"
            assert await next_message(on_b) == "hello"
            await a.publish("user:2", "private")
            assert await next_message(other) == "private"
            await a.publish("user:1", "last")  # in order after "private": nothing else came in between
            assert await next_message(on_a) == "last"
            assert await next_message(on_b) == "last"
            for subscription in (on_a, on_b, other):
                subscription.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_messages_arrive_in_order_and_a_closed_subscription_ends(kind: str) -> None:
    async def scenario() -> None:
        async with instances(kind, 1) as (bus,):
            async with await bus.subscribe("events") as events:
                for n in range(50):
                    await bus.publish("events", str(n))
                received = [await next_message(events) for _ in range(50)]
                assert received == [str(n) for n in range(50)]
            assert [m async for m in events] == []  # closed: iteration ends at once

    asyncio.run(scenario())


def test_a_subscriber_that_falls_too_far_behind_is_cut_off() -> None:
    async def scenario() -> None:
        bus = MemoryPubSub()
        slow = await bus.subscribe("busy")
        for n in range(QUEUE_LIMIT + 10):
            await bus.publish("busy", str(n))
        assert slow.lost
        assert len([m async for m in slow]) == QUEUE_LIMIT  # what it had, then the end, not unbounded memory

    asyncio.run(scenario())


def test_every_subscriber_is_subscribed_when_subscribe_returns_even_a_second_one() -> None:
    async def scenario() -> None:
        async with instances("redis", 2) as (a, b):
            first, second = await asyncio.gather(b.subscribe("user:9"), b.subscribe("user:9"))
            await a.publish("user:9", "now")
            assert await next_message(first) == "now"
            assert await next_message(second) == "now"

    asyncio.run(scenario())


def test_a_payload_that_is_not_utf8_does_not_stop_delivery() -> None:
    async def scenario() -> None:
        async with instances("redis", 1) as (bus,):
            events = await bus.subscribe("bytes")
            assert isinstance(bus, RedisPubSub)
            await bus._redis.publish(bus._prefix + "bytes", b"\xff\xfe")
            await bus.publish("bytes", "fine")
            assert await next_message(events) == "\ufffd\ufffd"
            assert await next_message(events) == "fine"

    asyncio.run(scenario())
