"""Job events: every change of a job is a row numbered per user (``seq``), written in the transaction that
makes the change, and published on the user's channel once that commits.

The counter row serialises a user's events, so they commit in ``seq`` order; a subscriber that sees a
number jump (publishing after commit can reorder) reads the missing ones back from the table. A client
that reconnects with ``since=<seq>`` gets what it missed the same way, so nothing is lost or repeated:
``EventLog.follow`` is that one mechanism, behind the WebSocket and the Server-Sent Events alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard.db import after_commit
from artboard.jobs import repository
from artboard.jobs.schemas import JobView, job_json
from artboard.kit.pubsub import PubSub, Subscription
from artboard.models import JobEvent
from artboard.models.base import utcnow
from artboard.models.job import FINISHED

EVENT_TYPE = "job.updated"
# Events read back from the table per query; a longer catch-up reads again, holding no session in between.
READ_BACK_BATCH = 500


def user_channel(owner_id: str) -> str:
    return f"user:{owner_id}"


def event_of(row: JobEvent) -> dict[str, Any]:
    return {"type": row.type, "seq": row.seq, "job": row.payload}


class JobState(NamedTuple):
    """A job as one event shows it, taken when it was in that state."""

    owner_id: str
    payload: dict[str, Any]


def state_of(job: JobView, queue_position: int | None = None) -> JobState:
    return JobState(job.owner_id, job_json(job, queue_position))


@dataclass
class _Cursor:
    """Where a follower stands: every event it wants up to ``last`` has been handed out."""

    last: int
    job_id: str | None

    def wants(self, event: dict[str, Any]) -> bool:
        return self.job_id is None or event["job"]["id"] == self.job_id

    def ends_with(self, event: dict[str, Any]) -> bool:
        """A one-job stream ends with its job's final state (a retry is a new job)."""
        return self.job_id is not None and event["job"]["status"] in FINISHED


class EventLog:
    def __init__(self, pubsub: PubSub, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._pubsub = pubsub
        self._sessions = sessions

    async def record(self, db: AsyncSession, job: JobView, queue_position: int | None = None) -> None:
        """Write the job's current state as its owner's next event; published after the commit."""
        await self.record_all(db, [(job, queue_position)])

    async def record_all(self, db: AsyncSession, changes: Sequence[tuple[JobView, int | None]]) -> None:
        """Write each job's current state (with its queue position, if given) as an event, in this order."""
        await self.write(db, [state_of(job, queue_position) for job, queue_position in changes])

    async def write(self, db: AsyncSession, states: Sequence[JobState]) -> None:
        """Write states taken earlier (``state_of``) as events, in this order: per user, one counter update and
        one insert, however many there are (one statement for both on PostgreSQL)."""
        by_owner: dict[str, list[repository.NewEvent]] = {}
        encoded = [json.dumps(state.payload) for state in states]  # once: the row and the message carry the same text
        for state, payload in zip(states, encoded, strict=True):
            by_owner.setdefault(state.owner_id, []).append(
                repository.NewEvent(state.payload["id"], EVENT_TYPE, payload)
            )
        if not by_owner:
            return
        next_seq = await repository.add_events(db, by_owner, utcnow())
        published: list[tuple[str, str]] = []
        for state, payload in zip(states, encoded, strict=True):
            seq = next_seq[state.owner_id]
            next_seq[state.owner_id] = seq + 1
            message = f'{{"type": "{EVENT_TYPE}", "seq": {seq}, "job": {payload}}}'  # json.dumps of event_of's shape
            published.append((user_channel(state.owner_id), message))
        after_commit(db, lambda: self._publish(published))

    async def _publish(self, events: list[tuple[str, str]]) -> None:
        for channel, message in events:
            await self._pubsub.publish(channel, message)

    async def since(
        self, db: AsyncSession, owner_id: str, seq: int, *, job_id: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """The user's events after ``seq`` (one job's only, with ``job_id``), oldest first."""
        return [event_of(row) for row in await repository.events_since(db, owner_id, seq, limit, job_id)]

    async def subscribe(self, owner_id: str) -> Subscription:
        """Live events of one user; subscribe before reading back, so nothing falls between the two."""
        return await self._pubsub.subscribe(user_channel(owner_id))

    async def follow(
        self, owner_id: str, since: int | None, *, job_id: str | None = None, keepalive_s: float
    ) -> AsyncGenerator[dict[str, Any] | None, None]:
        """The user's events after ``since`` from the table, then the live ones: each exactly once, in ``seq``
        order. With ``job_id``, that job's only, ending after its final state (at once if it had finished
        before ``since``). ``since=None`` starts from now; a ``since`` beyond the latest event counts as now.
        None comes once the replay is done and every ``keepalive_s`` after it: time for a keep-alive and for
        checking that the caller is still signed in.

        Nothing falls between replay and live: the subscription is made before the table is read, a live event
        at or below the last one handed out is skipped, a jump in ``seq`` is filled from the table, and a
        subscription that ended as ``lost`` is made again and followed by a read back. Sessions are short:
        none is held while waiting for events or for the consumer.
        """
        subscription = await self.subscribe(owner_id)
        try:
            async with self._sessions() as db:
                # The job before the counter: if it had finished, its final event is at or below `latest`.
                job = await repository.job(db, owner_id, job_id) if job_id is not None else None
                latest = await repository.latest_seq(db, owner_id)
            cursor = _Cursor(latest if since is None else min(since, latest), job_id)
            async for event in self._catch_up(owner_id, cursor, None):
                yield event
                if cursor.ends_with(event):
                    return
            if job_id is not None and (job is None or job.status in FINISHED):
                return
            loop = asyncio.get_running_loop()
            keepalive_at = loop.time()
            while True:
                if loop.time() >= keepalive_at:
                    yield None
                    keepalive_at = loop.time() + keepalive_s
                try:
                    async with asyncio.timeout_at(keepalive_at):
                        message = await subscription.get()
                except TimeoutError:
                    continue
                if message is None:  # ended as lost: messages may be missing from here
                    subscription.close()
                    subscription = await self.subscribe(owner_id)
                async for event in self._catch_up(owner_id, cursor, _live_event(message)):
                    yield event
                    if cursor.ends_with(event):
                        return
        finally:
            subscription.close()

    async def _catch_up(
        self, owner_id: str, cursor: _Cursor, live: dict[str, Any] | None
    ) -> AsyncIterator[dict[str, Any]]:
        """What the follower has not had, up to and including the ``live`` event. Without one (at the start, after
        a lost subscription or an unreadable message) or when its number jumps, the table has the missing ones:
        a user's events commit in ``seq`` order, so once one is published every earlier one is readable."""
        if live is not None and live["seq"] <= cursor.last:
            return
        if live is None or live["seq"] > cursor.last + 1:
            while True:
                async with self._sessions() as db:
                    batch = await self.since(db, owner_id, cursor.last, job_id=cursor.job_id, limit=READ_BACK_BATCH)
                for event in batch:
                    cursor.last = event["seq"]
                    yield event
                if len(batch) < READ_BACK_BATCH:
                    break
        if live is not None and live["seq"] > cursor.last:
            cursor.last = live["seq"]
            if cursor.wants(live):
                yield live


def _live_event(message: str | None) -> dict[str, Any] | None:
    """A published event, or None when there is none to trust (the subscription was lost, or the message is
    unreadable): the follower then reads back from the table."""
    if message is None:
        return None
    with contextlib.suppress(ValueError):
        event = json.loads(message)
        if isinstance(event, dict) and isinstance(event.get("seq"), int) and isinstance(event.get("job"), dict):
            return event
    return None
