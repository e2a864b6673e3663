"""Job events: every change of a job is a row numbered per user (``seq``), written in the transaction that
makes the change, and published on the user's channel once that commits.

The counter row serialises a user's events, so they commit in ``seq`` order; a subscriber that sees a
number jump (publishing after commit can reorder) reads the missing ones back from the table. A client
that reconnects with ``since=<seq>`` gets what it missed the same way, so nothing is lost or repeated.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from artboard.db import after_commit
from artboard.jobs import repository
from artboard.jobs.schemas import job_out
from artboard.kit.pubsub import PubSub, Subscription
from artboard.models import Job, JobEvent

EVENT_TYPE = "job.updated"


def user_channel(owner_id: str) -> str:
    return f"user:{owner_id}"


def event_of(row: JobEvent) -> dict[str, Any]:
    return {"type": row.type, "seq": row.seq, "job": row.payload}


class EventLog:
    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    async def record(self, db: AsyncSession, job: Job, queue_position: int | None = None) -> None:
        """Write the job's current state as its owner's next event; published after the commit."""
        seq = await repository.next_seq(db, job.owner_id)
        payload = job_out(job, queue_position).model_dump(mode="json")
        db.add(JobEvent(owner_id=job.owner_id, seq=seq, job_id=job.id, type=EVENT_TYPE, payload=payload))
        message = json.dumps({"type": EVENT_TYPE, "seq": seq, "job": payload})
        channel = user_channel(job.owner_id)
        after_commit(db, lambda: self._pubsub.publish(channel, message))

    async def since(
        self, db: AsyncSession, owner_id: str, seq: int, *, job_id: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """The user's events after ``seq`` (one job's only, with ``job_id``), oldest first."""
        return [event_of(row) for row in await repository.events_since(db, owner_id, seq, limit, job_id)]

    async def subscribe(self, owner_id: str) -> Subscription:
        """Live events of one user; subscribe before reading back, so nothing falls between the two."""
        return await self._pubsub.subscribe(user_channel(owner_id))
