"""The job service behind every submit route: validate against the model's schema, keep the per-user caps,
honour idempotency keys, and change states only through conditional updates that write an event each."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard.db import after_commit, before_commit
from artboard.engines.catalog import Catalog
from artboard.errors import Conflict, NotFound, RateLimited, ValidationFailed
from artboard.jobs import repository
from artboard.jobs.broker import Broker
from artboard.jobs.events import EventLog, JobState, state_of
from artboard.jobs.paid import PaidJobs
from artboard.jobs.schemas import JobView, RunningJob
from artboard.kit.pagination import PageParams
from artboard.kit.pubsub import PubSub
from artboard.library.service import Library
from artboard.models import Job
from artboard.models.base import new_id, utcnow
from artboard.models.job import CANCELED, FAILED, FINISHED, QUEUED, RUNNING, TIMED_OUT

PAUSED = "paused"
# Where a cancellation is announced to the worker running the job.
CANCEL_CHANNEL = "jobs:cancel"


@dataclass(frozen=True)
class JobLimits:
    max_queued_per_user: int
    max_attempts: int
    worker_silence: timedelta  # a worker not heard from for this long is no longer counted as live


class LocalWorker(Protocol):
    """The worker in this process, as a submit sees it: it can start a job at once (``worker.Worker``)."""

    id: str

    @property
    def lease_s(self) -> float: ...

    @property
    def max_running_per_user(self) -> int: ...

    def reserve(self) -> bool: ...

    def release(self) -> None: ...

    def adopt(self, job: RunningJob) -> None: ...


@dataclass(frozen=True)
class Submitted:
    job: Job
    replayed: bool  # an earlier submit with the same idempotency key made it
    queue_position: int | None = None


class Jobs:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        library: Library,
        events: EventLog,
        broker: Broker,
        pubsub: PubSub,
        limits: JobLimits,
        paid: PaidJobs,
    ) -> None:
        self._sessions = sessions
        self.paid = paid
        self._pubsub = pubsub
        self.catalog = catalog
        self._library = library
        self.events = events
        self._broker = broker
        self._limits = limits
        # Set once the worker of this process is built (it needs this service first).
        self.local_worker: LocalWorker | None = None

    async def submit(
        self,
        db: AsyncSession,
        owner_id: str,
        model_name: str,
        parameters: dict[str, Any],
        *,
        source_image_id: str | None = None,
        priority: int = 0,
        idempotency_key: str | None = None,
        retry_of: str | None = None,
        session_id: str | None = None,
        folder_id: str | None = None,
    ) -> Submitted:
        """Queue a job of ``model_name``. A paid model runs with the user's key from the key session
        ``session_id`` (or the operator's key) and must fit the user's monthly budget."""
        model = self.catalog.model(model_name)
        checked = model.validate(parameters)
        if model.needs_source:
            if source_image_id is None:
                raise ValidationFailed(f"{model.name} starts from one of your images: name it with image_id.")
            await self._library.image(db, owner_id, source_image_id)  # the caller's own, or 404
        if folder_id is not None:
            await self._library.folder(db, owner_id, folder_id)  # where the outputs go: the caller's, or 404
        request = {
            "model": model.name,
            "parameters": checked,
            "image_id": source_image_id,
            "priority": priority,
            "folder_id": folder_id,
        }
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        if idempotency_key is not None and (earlier := await repository.job_by_key(db, owner_id, idempotency_key)):
            return Submitted(self._same_request(earlier, digest), replayed=True)
        submitter = await repository.hold_submits(db, owner_id)
        if submitter.queued >= self._limits.max_queued_per_user:
            raise RateLimited(
                f"You have {submitter.queued} jobs waiting, the most allowed; wait for some to finish or cancel some.",
                retry_after=5,
            )
        now = utcnow()
        job = Job(  # every column given: the row goes in on the table, and this object only describes it
            id=new_id(),
            owner_id=owner_id,
            kind=model.kind,
            engine=model.engine,
            model=model.name,
            input={"parameters": checked, "image_id": source_image_id}
            | ({"folder_id": folder_id} if folder_id else {}),
            status=QUEUED,
            progress=0.0,
            message=None,
            result=None,
            error_code=None,
            error_message=None,
            cost=0.0,
            attempts=0,
            max_attempts=self._limits.max_attempts,
            priority=priority,
            retry_of=retry_of,
            idempotency_key=idempotency_key,
            request_hash=digest,
            cancel_requested=False,
            provider_state=None,
            sealed_key=None,
            worker_id=None,
            lease_until=None,
            run_after=now,
            created=now,
            started=None,
            finished=None,
            updated=now,
        )
        await self.paid.prepare(db, job, model, session_id, submitter.monthly_budget)
        if idempotency_key is None:
            await repository.add_job(db, job)
        else:
            try:
                async with db.begin_nested():
                    await repository.add_job(db, job)
            except IntegrityError:  # the same key submitted at the same moment: that one wins
                if (earlier := await repository.job_by_key(db, owner_id, idempotency_key)) is None:
                    raise
                return Submitted(self._same_request(earlier, digest), replayed=True)
        local = self.local_worker
        if local is not None:
            place = await repository.place(db, job, local.max_running_per_user, unless_flag=PAUSED)
        else:
            place = repository.Place(await repository.queue_position(db, job), may_start=False)
        as_queued = state_of(job, place.position)
        before_commit(db, lambda: self._start_or_announce(db, job, as_queued, place.may_start))
        return Submitted(job, replayed=False, queue_position=place.position)

    async def _start_or_announce(self, db: AsyncSession, job: Job, as_queued: JobState, may_start: bool) -> None:
        """The last work of a submit's transaction (its reply, queued, is rendered by then): a job the fair order
        would start next (``may_start``) goes straight to this process's worker when it has a free slot, in the
        same commit (no claim round, no wake-up); any other is announced to the workers once committed. The
        job's queued event is written here, with its running one when it starts."""
        local = self.local_worker
        if may_start and local is not None and local.reserve():
            now = utcnow()
            started = await repository.claim_at_once(db, job, local.id, now, now + timedelta(seconds=local.lease_s))
            if started is not None:
                await self.events.write(db, [as_queued, state_of(started)])

                async def adopt() -> None:
                    local.adopt(started)

                after_commit(db, adopt)
                return
            local.release()
        await self.events.write(db, [as_queued])
        after_commit(db, lambda: self._broker.announce([job.id]))

    @staticmethod
    def _same_request(earlier: Job, digest: str) -> Job:
        if earlier.request_hash != digest:
            raise Conflict("This Idempotency-Key was used for a different request; use a new key.")
        return earlier

    async def get(self, db: AsyncSession, owner_id: str, job_id: str) -> Job:
        found = await repository.job(db, owner_id, job_id)
        if found is None:
            raise NotFound("No job with this id.")
        return found

    async def position(self, db: AsyncSession, job: JobView) -> int | None:
        return await repository.queue_position(db, job) if job.status == QUEUED else None

    async def page(
        self, db: AsyncSession, owner_id: str | None, page: PageParams, *, status: str | None, kind: str | None
    ) -> tuple[list[Job], int]:
        return await repository.jobs(db, owner_id, status=status, kind=kind, offset=page.offset, limit=page.per_page)

    async def cancel(self, db: AsyncSession, owner_id: str, job_id: str) -> JobView:
        """A queued job is canceled at once; a running one is asked to stop at its next checkpoint; a
        finished one is left as it is."""
        job = await self.get(db, owner_id, job_id)
        now = utcnow()
        if job.status == QUEUED:
            # Never run, so nothing charged: its estimate stops counting against the budget, its key is wiped.
            ended = {"status": CANCELED, "finished": now, "updated": now, "message": "Canceled."}
            moved = await repository.transition(db, job.id, QUEUED, {**ended, "cost": 0.0, "sealed_key": None})
            if moved is not None:
                await self.events.record(db, moved)
                return moved
            await db.refresh(job)  # it started meanwhile: ask the running worker to stop it
        if job.status == RUNNING and not job.cancel_requested:
            moved = await repository.transition(
                db, job.id, RUNNING, {"cancel_requested": True, "message": "Canceling…", "updated": now}
            )
            if moved is not None:
                await self.events.record(db, moved)
                after_commit(db, lambda: self._broker_cancel(moved.id))
                return moved
        return job

    async def _broker_cancel(self, job_id: str) -> None:
        """The fast path to the worker running the job; its lease heartbeat reads the flag anyway."""
        await self._pubsub.publish(CANCEL_CHANNEL, job_id)

    async def retry(self, db: AsyncSession, owner_id: str, job_id: str, session_id: str | None = None) -> Job:
        job = await self.get(db, owner_id, job_id)
        if job.status not in (FAILED, CANCELED, TIMED_OUT):
            raise Conflict(f"Only a failed, canceled or timed-out job can be retried; this one is {job.status}.")
        submitted = await self.submit(
            db,
            owner_id,
            job.model,
            job.input.get("parameters", {}),
            source_image_id=job.input.get("image_id"),
            folder_id=job.input.get("folder_id"),
            priority=job.priority,
            retry_of=job.id,
            session_id=session_id,
        )
        return submitted.job

    async def wait(self, owner_id: str, job_id: str, timeout_s: float) -> Job | None:
        """The job once finished, if that happens within ``timeout_s``, else None."""
        subscription = await self.events.subscribe(owner_id)
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    async with self._sessions() as db:
                        job = await self.get(db, owner_id, job_id)
                    if job.status in FINISHED:
                        return job
                    while (message := await subscription.get()) is not None:
                        if job_id in message and _may_have_ended(message):
                            break
                    else:
                        await asyncio.sleep(0.05)  # the subscription ended: look again
                        subscription = await self.events.subscribe(owner_id)
        except TimeoutError:
            return None
        finally:
            subscription.close()

    # ---- admin -------------------------------------------------------------------------------------------

    async def queue_state(self, db: AsyncSession) -> dict[str, Any]:
        counts = await repository.status_counts(db)
        oldest = await repository.oldest_queued(db)
        now = utcnow()
        return {
            "counts": {status: counts.get(status, 0) for status in (QUEUED, RUNNING, *sorted(FINISHED))},
            "oldest_queued_age_s": round((now - oldest).total_seconds(), 3) if oldest else None,
            "live_workers": await repository.live_workers(db, now - self._limits.worker_silence),
            "paused": await repository.is_flag_on(db, PAUSED),
        }

    async def set_paused(self, db: AsyncSession, paused: bool) -> None:
        await repository.set_flag(db, PAUSED, paused)
        if not paused:
            after_commit(db, lambda: self._broker.announce([]))

    async def health(self) -> dict[str, Any]:
        """Live workers and queue depth for ``/health``; never raises (health reports, it doesn't fail)."""
        with contextlib.suppress(Exception):
            async with self._sessions() as db:
                state = await self.queue_state(db)
                return {"live_workers": state["live_workers"], "queued": state["counts"][QUEUED]}
        return {"live_workers": None, "queued": None}


def _may_have_ended(message: str) -> bool:
    """Whether a published event may say its job finished: only then is the job read again."""
    try:
        return json.loads(message)["job"]["status"] in FINISHED
    except (ValueError, KeyError, TypeError):
        return True
