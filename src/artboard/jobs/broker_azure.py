"""The Azure broker: wake-ups naming job ids on an Azure Storage queue (seed 000 ran on one).

A received message is hidden for ``visibility_s`` (the message's lease) and deleted on the worker's next
``wait``, once it has looked at the queue. A worker that dies holding messages never deletes them: they
become visible again and wake another worker. The queue has no blocking receive, so an idle worker asks
again at a growing interval (up to ``MAX_POLL_S``), back to quick once messages arrive. Message text is
base64, as Azure Functions and the portal expect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.queue import QueueMessage, TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

log = logging.getLogger("artboard.broker")

# Most messages one receive may return (the service's limit).
RECEIVE_BATCH = 32
MIN_POLL_S = 0.05
MAX_POLL_S = 1.0


def queue_client(connection_string: str, queue_name: str) -> QueueClient:
    return QueueClient.from_connection_string(
        connection_string,
        queue_name,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
        retry_total=2,  # a broker call fails fast: workers look at the queue anyway
        connection_timeout=5,
        read_timeout=10,
    )


class AzureQueueBroker:
    """Owns ``client`` (``queue_client(...)``) and closes it."""

    def __init__(self, client: QueueClient, *, visibility_s: float) -> None:
        self._client = client
        self._visibility_s = max(1, round(visibility_s))
        self._held: list[QueueMessage] = []  # received here, deleted on the next wait
        self._queue_ready = False
        self._poll_s = MIN_POLL_S

    async def announce(self, job_ids: Sequence[str]) -> None:
        await self._ensure_queue()
        await asyncio.gather(*(self._client.send_message(job_id) for job_id in job_ids or [""]))

    async def wait(self, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            await self._delete_held()
            await self._ensure_queue()
            while not await self._receive():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                await asyncio.sleep(min(self._poll_s, remaining))
                self._poll_s = min(MAX_POLL_S, self._poll_s * 2)
            self._poll_s = MIN_POLL_S
        except AzureError as exc:
            log.warning("azure broker: %s; looking at the queue without wake-ups for now", exc)
            self._queue_ready = False
            await asyncio.sleep(max(0.0, deadline - loop.time()))

    async def close(self) -> None:
        await self._delete_held()
        await self._client.close()

    async def _ensure_queue(self) -> None:
        if not self._queue_ready:
            with contextlib.suppress(ResourceExistsError):
                await self._client.create_queue()
            self._queue_ready = True

    async def _receive(self) -> bool:
        """One request for up to RECEIVE_BATCH messages; True when any came."""
        pages = self._client.receive_messages(
            messages_per_page=RECEIVE_BATCH, visibility_timeout=self._visibility_s
        ).by_page()
        try:
            page = await anext(pages)
        except StopAsyncIteration:
            return False
        received = [message async for message in page]
        self._held += received
        return bool(received)

    async def _delete_held(self) -> None:
        held, self._held = self._held, []
        for message in held:
            # Not deleted (its visibility ran out and another worker took it, or the service did not answer):
            # at worst it wakes a worker once more.
            with contextlib.suppress(AzureError):
                await self._client.delete_message(message)
