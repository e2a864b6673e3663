"""The worker: claims jobs fairly from the database, runs each on its engine under a timeout, keeps its
leases alive, and finishes each job exactly once.

Crash safety comes from leases, not from the broker: a claimed job carries ``lease_until``, renewed every
third of ``ARTBOARD_JOB_LEASE_S`` while its worker lives. A worker killed mid-job stops renewing; once the
lease runs out any worker puts the job back in the queue (or fails it after its last attempt). Finishing
is a conditional update on ``status = running AND worker_id = me`` in the transaction that stores the
outputs, so a job delivered twice (a worker that was only slow) produces one result: the loser's
transaction rolls back and its images are never written.

Writes are group-committed: every change a job makes (claimed, progress, provider state, finished, requeued)
is handed to the worker's loop, which writes all changes waiting at that moment, their events and the next
claim in one transaction; should one change fail, the round is written again with each change in a savepoint
of its own, so the failing one leaves the others standing. A job's task goes on only once its change has
committed. One writer per worker also means no SQLite writer waits on another of the same worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard.db import transaction
from artboard.engines.base import EngineError, EngineResult, JobCanceled, JobContext
from artboard.errors import AppError
from artboard.jobs import repository
from artboard.jobs.broker import Broker
from artboard.jobs.schemas import JobView, RunningJob
from artboard.jobs.service import CANCEL_CHANNEL, PAUSED, Jobs
from artboard.kit.pubsub import PubSub
from artboard.library.service import JobOutput, Library
from artboard.models import WorkerRow
from artboard.models.base import new_id, utcnow
from artboard.models.job import CANCELED, FAILED, QUEUED, RUNNING, SUCCEEDED, TIMED_OUT
from artboard.vault.crypto import CannotOpen

log = logging.getLogger("artboard.worker")

# How often an idle worker looks at the queue even when no broker message came.
POLL_S = 1.0
# Least time between two progress writes of one job (each is a row update and an event).
PROGRESS_INTERVAL_S = 0.1
EVENT_PRUNE_EVERY_S = 600.0
WAITING_AGAIN = "Waiting for a worker (the previous one stopped)."
# How long a slot held for a job starting at its submit waits for that submit to commit.
RESERVE_S = 5.0


@dataclass(frozen=True)
class WorkerSettings:
    concurrency: int
    task_timeout_s: float
    lease_s: float
    max_running_per_user: int
    event_retention: timedelta
    event_keep_per_user: int


def new_worker_id() -> str:
    """Host and process id (who to look for when a job stalls), and a suffix no restart repeats."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


# What follows a job's move in the same transaction (what a finished job keeps), given the row as moved (None when
# the job was no longer this worker's to move); returns the job as it ends up.
Then = Callable[[AsyncSession, JobView | None], Awaitable[JobView | None]]


@dataclass
class _Running:
    job: RunningJob
    stop: threading.Event = field(default_factory=threading.Event)
    stop_reason: str | None = None  # CANCELED or TIMED_OUT once asked to stop
    progress: tuple[float, str] | None = None
    progress_written: asyncio.Event = field(default_factory=asyncio.Event)
    progress_writer: asyncio.Task[None] | None = None  # started by the first report: most jobs make none
    over: bool = False  # its task has ended: a late report starts no writer


class _ChangeFailed(Exception):
    """A change failed in a round tried without savepoints: the round is written again with them."""


@dataclass
class _Write:
    move: repository.Move
    then: Then | None
    done: asyncio.Future[JobView | None]
    record: bool  # write the changed job's event
    ends: _Running | None  # the run this change ends (its slot is free once it commits)


class Worker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        jobs: Jobs,
        library: Library,
        broker: Broker,
        pubsub: PubSub,
        settings: WorkerSettings,
        worker_id: str,
    ) -> None:
        self._sessions = sessions
        self._jobs = jobs
        self._library = library
        self._broker = broker
        self._pubsub = pubsub
        self._settings = settings
        self.id = worker_id
        self._running: dict[str, _Running] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._writes: list[_Write] = []
        self._wake = asyncio.Event()
        self._look = True  # the queue may hold work for this worker: claim at the next commit
        self._passed_over = True  # the last claim left jobs whose owner was at the cap: a freed slot may start one
        self._serving = False  # run() is going: jobs may be started here at their submit
        self._reserved: list[float] = []  # when each slot held for a job starting at its submit is given up

    async def run(self) -> None:
        """Runs until cancelled; on the way out, jobs still running go back to the queue at once."""
        helpers = [
            asyncio.create_task(self._heartbeats()),
            asyncio.create_task(self._listen_for_cancels()),
            asyncio.create_task(self._listen_for_work()),
        ]
        self._serving = True
        self._look = True  # jobs may have been queued while no run was going, their announcements unheard
        loop = asyncio.get_running_loop()
        look_at = loop.time() + POLL_S
        try:
            while True:
                try:
                    await self._commit_round()
                except Exception:
                    log.exception("writing jobs failed; trying again shortly")
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that arrives
                # as the event fires, and the worker would outlive its server.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(look_at):
                        await self._wake.wait()
                if loop.time() >= look_at:  # every POLL_S, however busy: a delayed retry's time may have come
                    self._look = True
                    look_at = loop.time() + POLL_S
                self._wake.clear()
        finally:
            self._serving = False
            for running in self._running.values():
                running.stop.set()  # an engine working in a thread stops at its next checkpoint
            for task in [*helpers, *self._tasks]:
                task.cancel()
            await asyncio.gather(*helpers, *self._tasks, return_exceptions=True)
            await asyncio.shield(self._release_all())

    async def _listen_for_work(self) -> None:
        while True:
            await self._broker.wait(POLL_S)
            self._look = True
            self._wake.set()

    async def _write(
        self, move: repository.Move, *, then: Then | None = None, record: bool = True, ends: _Running | None = None
    ) -> JobView | None:
        """Hand ``move`` (and what follows it) to the next group commit; returns once it committed (raises if it
        failed)."""
        return await self._queue_write(move, then=then, record=record, ends=ends)

    def _queue_write(
        self, move: repository.Move, *, then: Then | None = None, record: bool = True, ends: _Running | None = None
    ) -> asyncio.Future[JobView | None]:
        write = _Write(move, then, asyncio.get_running_loop().create_future(), record, ends)
        self._writes.append(write)
        if ends is not None and self._passed_over:
            self._look = True  # a slot frees, and an owner at the cap may have one turn more
        self._wake.set()
        return write.done

    async def _commit_round(self, *, claim: bool = True) -> None:
        """Every change waiting now, their events and the next claim: one transaction. Changes rarely fail, so
        they are tried together first; if one does, the round is written again with each change in a savepoint
        of its own, so the one that failed leaves the others standing."""
        writes = [write for write in self._writes if not write.done.cancelled()]
        self._writes = []
        if not writes and not (claim and self._look and self._free_slots() > 0):
            return  # woken with nothing to write and nothing to claim: no transaction
        try:
            try:
                outcomes, claimed = await self._commit(writes, claim, isolated=False)
            except _ChangeFailed:
                outcomes, claimed = await self._commit(writes, claim, isolated=True)
        except BaseException as exc:
            for write in writes:
                if not write.done.done():
                    write.done.set_exception(exc if isinstance(exc, Exception) else RuntimeError("worker stopped"))
            raise
        for write, outcome in zip(writes, outcomes, strict=True):
            if isinstance(outcome, Exception):
                if not write.done.done():
                    write.done.set_exception(outcome)
                continue
            if write.ends is not None and self._running.get(write.ends.job.id) is write.ends:
                del self._running[write.ends.job.id]
            if not write.done.done():
                write.done.set_result(outcome)
        for job in claimed:
            self._start(job)

    def _start(self, job: RunningJob) -> None:
        running = _Running(job)
        self._running[job.id] = running
        task = asyncio.create_task(self._execute(running))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- jobs started at their submit ---------------------------------------------------------------------

    def reserve(self) -> bool:
        """Hold a slot for a job about to start at its submit (``Jobs.submit``), in this process: the claim
        round, the wake-up and a transaction are saved. The slot is given up after ``RESERVE_S`` if the job
        never arrives (its submit rolled back)."""
        if not self._serving or self._free_slots() <= 0:
            return False
        self._reserved.append(asyncio.get_running_loop().time() + RESERVE_S)
        return True

    def release(self) -> None:
        """Give back a slot held with ``reserve`` (the job waits in the queue after all)."""
        if self._reserved:
            self._reserved.pop(0)

    def adopt(self, job: RunningJob) -> None:
        """Run a job its submit claimed for this worker (its transaction has committed). A worker stopped
        meanwhile leaves it to lease recovery, as any job it held."""
        self.release()
        if self._serving:
            self._start(job)

    def _free_slots(self) -> int:
        now = asyncio.get_running_loop().time()
        self._reserved = [until for until in self._reserved if until > now]
        return self._settings.concurrency - len(self._running) - len(self._reserved)

    @property
    def lease_s(self) -> float:
        return self._settings.lease_s

    @property
    def max_running_per_user(self) -> int:
        return self._settings.max_running_per_user

    async def _commit(
        self, writes: list[_Write], claim: bool, *, isolated: bool
    ) -> tuple[list[JobView | Exception | None], list[RunningJob]]:
        """One try at a round; without ``isolated``, a change that fails aborts it (``_ChangeFailed``)."""
        outcomes: list[JobView | Exception | None] = []
        claimed: list[RunningJob] = []
        async with transaction(self._sessions) as db:
            if isolated:
                for write in writes:
                    try:
                        async with db.begin_nested():
                            (row,) = await repository.transition_all(db, [write.move])
                            outcomes.append(await self._apply(db, write, row))
                    except Exception as exc:
                        outcomes.append(exc)  # its savepoint is undone; the job's task decides what next
            else:
                try:
                    for batch in _batches(writes):
                        moved = await repository.transition_all(db, [write.move for write in batch])
                        outcomes += [await self._apply(db, write, row) for write, row in zip(batch, moved, strict=True)]
                except Exception as exc:
                    raise _ChangeFailed from exc
            changed: list[tuple[JobView, int | None]] = [
                (job, await repository.queue_position(db, job) if job.status == QUEUED else None)
                for write, job in zip(writes, outcomes, strict=True)
                if job is not None and not isinstance(job, Exception) and write.record
            ]
            ending = sum(
                1
                for write, outcome in zip(writes, outcomes, strict=True)
                if write.ends and not isinstance(outcome, Exception)
            )
            free = self._free_slots() + ending
            if claim and self._look and free > 0:
                now = utcnow()
                lease_until = now + timedelta(seconds=self._settings.lease_s)
                rows, self._passed_over = await repository.claim(
                    db, self.id, free, self._settings.max_running_per_user, now, lease_until, unless_flag=PAUSED
                )
                claimed = list(rows)
                self._look = len(claimed) == free  # a full claim: there may be more
                changed += [(job, None) for job in claimed]
            await self._jobs.events.record_all(db, changed)
        return outcomes, claimed

    @staticmethod
    async def _apply(db: AsyncSession, write: _Write, moved: JobView | None) -> JobView | None:
        """What follows a write's move, if anything; the job as it ends up."""
        return moved if write.then is None else await write.then(db, moved)

    # ---- one job -----------------------------------------------------------------------------------------

    async def _execute(self, running: _Running) -> None:
        job = running.job
        try:
            result = await self._run_engine(running)
        except TimeoutError:
            running.stop.set()
            await self._finish(running, TIMED_OUT, error=self._timeout_error)
        except JobCanceled:
            if running.stop_reason == TIMED_OUT:
                await self._finish(running, TIMED_OUT, error=self._timeout_error)
            else:
                await self._finish(running, CANCELED, message="Canceled.")
        except EngineError as exc:
            if exc.transient:
                await self._retry_or_fail(running, exc.code, exc.message)
            else:
                await self._finish(running, FAILED, error=(exc.code, exc.message))
        except AppError as exc:  # e.g. the source image was deleted meanwhile
            await self._finish(running, FAILED, error=(exc.code, exc.message))
        except Exception:
            log.exception("job %s failed in its engine", job.id)
            await self._finish(running, FAILED, error=("internal_error", "The engine failed unexpectedly."))
        else:
            if running.stop_reason == CANCELED:
                await self._finish(running, CANCELED, message="Canceled.")
            else:
                try:
                    await self._succeed(running, result)
                except AppError as exc:  # the output is not an image Artboard can keep (or its quota is full)
                    await self._finish(
                        running, FAILED, error=("invalid_output", f"The result could not be kept: {exc}")
                    )
                except Exception:  # storage or the database failed: tried again now, not after the lease
                    log.exception("job %s: its result could not be stored", job.id)
                    await self._retry_or_fail(running, "internal_error", "The result could not be stored.")
        finally:
            running.over = True
            if running.progress_writer is not None:
                running.progress_writer.cancel()
            if self._running.get(job.id) is running:  # not a later claim of the same job taken meanwhile
                del self._running[job.id]
            self._wake.set()

    @property
    def _timeout_error(self) -> tuple[str, str]:
        return ("timeout", f"The job ran longer than {self._settings.task_timeout_s:g} s.")

    async def _run_engine(self, running: _Running) -> EngineResult:
        job = running.job
        engine = self._jobs.catalog.engine(job.engine)
        model = self._jobs.catalog.model(job.model)
        loop = asyncio.get_running_loop()

        def report(fraction: float, message: str) -> None:  # from the engine's thread
            loop.call_soon_threadsafe(self._note_progress, running, fraction, message)

        async def load_source() -> bytes:
            async with self._sessions() as db:
                _, blob = await self._library.image(db, job.owner_id, str(job.input.get("image_id")))
            return await self._library.media.original(blob)

        async def save_state(state: dict[str, Any]) -> None:
            values = {"provider_state": state, "updated": utcnow(), "worker_id": self.id}
            moved = await self._write(repository.Move(job.id, RUNNING, values), record=False)
            if moved is None:
                raise JobCanceled("The job is no longer this worker's.")

        try:
            credential = self._jobs.paid.key(job)
        except CannotOpen:
            raise EngineError(
                "key_unavailable", "The key this job was queued with cannot be opened (was SECRET_KEY changed?)."
            ) from None
        context = JobContext(
            job_id=job.id,
            owner_id=job.owner_id,
            model=model,
            parameters=dict(job.input.get("parameters", {})),
            load_source=load_source,
            progress=report,
            should_stop=running.stop.is_set,
            credential=credential,
            saved_state=job.provider_state,
            save_state=save_state,
        )
        try:
            async with asyncio.timeout(model.timeout_s or self._settings.task_timeout_s):
                return await engine.run(context)
        except TimeoutError:
            running.stop_reason = TIMED_OUT
            raise

    def _note_progress(self, running: _Running, fraction: float, message: str) -> None:
        """The latest progress, never below what was reported before in this run: clients see it only rise."""
        floor = running.progress[0] if running.progress is not None else 0.0
        running.progress = (max(floor, min(1.0, fraction)), message[:300])
        running.progress_written.set()
        if running.progress_writer is None and not running.over:
            running.progress_writer = asyncio.create_task(self._write_progress(running))

    async def _write_progress(self, running: _Running) -> None:
        """Write the latest progress at most every PROGRESS_INTERVAL_S; in between, newer values replace older."""
        while True:
            await running.progress_written.wait()
            running.progress_written.clear()
            if running.progress is None:
                continue
            fraction, message = running.progress
            values = {"progress": fraction, "message": message, "updated": utcnow(), "worker_id": self.id}
            try:
                await self._write(repository.Move(running.job.id, RUNNING, values))
            except Exception:
                log.exception("progress of job %s not written", running.job.id)
            await asyncio.sleep(PROGRESS_INTERVAL_S)

    async def _succeed(self, running: _Running, result: EngineResult) -> None:
        """Store the outputs and finish: the files are written first, then the rows that keep them, the result
        and the ledger commit together, so a worker that lost the job keeps nothing."""
        job = running.job
        blobs = await self._library.store(job.owner_id, [output.data for output in result.images])
        image_ids = [new_id() for _ in result.images]  # named now, so the finishing UPDATE carries the result

        now = utcnow()
        finish = repository.Move(
            job.id,
            RUNNING,
            {
                "status": SUCCEEDED,
                "progress": 1.0,
                "message": "Done.",
                "result": {"images": image_ids, "data": result.data},
                "cost": result.cost,
                "finished": now,
                "updated": now,
                "lease_until": None,
                "sealed_key": None,
                "worker_id": self.id,
            },
        )

        async def keep(db: AsyncSession, moved: JobView | None) -> JobView | None:
            if moved is None or (moved.cancel_requested and result.cost <= 0):
                # Taken over (or deleted) meanwhile, or canceled after its last checkpoint: nothing is kept
                # (except a result already paid for: that one is the user's).
                await self._library.media.release(db, {blob.id for blob in blobs})
                if moved is None:
                    log.warning("job %s was taken over before it finished here; its result is dropped", job.id)
                    return None
                canceled = {"status": CANCELED, "message": "Canceled.", "progress": job.progress, "result": None}
                return await repository.transition(db, job.id, SUCCEEDED, canceled)
            await self._jobs.paid.charge(db, moved, self._jobs.catalog.model(job.model), result)
            await self._library.add_job_outputs(
                db,
                job.owner_id,
                job.id,
                [
                    JobOutput(image_id, blob, output.title, output.details)
                    for image_id, output, blob in zip(image_ids, result.images, blobs, strict=True)
                ],
                folder_id=job.input.get("folder_id"),
                source_image_id=job.input.get("image_id"),
                lineage={
                    "engine": job.engine,
                    "model": job.model,
                    "parameters": job.input.get("parameters", {}),
                    "cost": result.cost / max(1, len(result.images)),
                },
            )
            return moved

        await self._write(finish, then=keep, ends=running)

    async def _finish(
        self, running: _Running, status: str, *, error: tuple[str, str] | None = None, message: str | None = None
    ) -> None:
        now = utcnow()
        values: dict[str, Any] = {
            "status": status,
            "finished": now,
            "updated": now,
            "lease_until": None,
            "message": message or (error[1] if error else None),
            "sealed_key": None,
            "cost": 0.0,  # nothing was charged: the estimate no longer counts against the budget
            "worker_id": self.id,
        }
        if error is not None:
            values["error_code"], values["error_message"] = error[0], error[1][:1000]
        await self._write(repository.Move(running.job.id, RUNNING, values), ends=running)

    async def _retry_or_fail(self, running: _Running, code: str, message: str) -> None:
        """A failure worth another try: back in the queue after a backoff while attempts remain, else failed."""
        attempts = running.job.attempts
        if attempts < running.job.max_attempts:
            await self._requeue(running, f"Retrying after: {message}", delay_s=2.0**attempts)
        else:
            await self._finish(running, FAILED, error=(code, message))

    async def _requeue(self, running: _Running, message: str, *, delay_s: float = 0.0) -> None:
        await self._write(self._requeuing(running.job, message, delay_s), ends=running)

    def _requeuing(self, job: JobView, message: str, delay_s: float = 0.0) -> repository.Move:
        now = utcnow()
        values = {
            "status": QUEUED,
            "message": message[:300],
            "run_after": now + timedelta(seconds=delay_s),
            "updated": now,
            "lease_until": None,
            "worker_id": self.id,
        }
        return repository.Move(job.id, RUNNING, values, release=True)

    async def _release_all(self) -> None:
        """Leaving: changes still waiting are written, then every job the database has as this worker's goes
        back to the queue now instead of after its lease. Asked of the database, not of ``_running``: a claim
        can commit just as the worker is stopped, before its jobs were started here."""
        try:
            await self._commit_round(claim=False)
            async with self._sessions() as db:
                held = await repository.held_by(db, self.id)
            requeued = [self._queue_write(self._requeuing(job, WAITING_AGAIN)) for job in held]
            try:
                await self._commit_round(claim=False)
            finally:
                await asyncio.gather(*requeued, return_exceptions=True)
        except Exception:
            log.exception("could not put this worker's jobs back; their leases will")
        with contextlib.suppress(Exception):
            async with transaction(self._sessions) as db:
                await repository.forget_worker(db, self.id)

    # ---- leases, heartbeats, cancellation ---------------------------------------------------------------------

    async def _heartbeats(self) -> None:
        started, pruned_at = utcnow(), 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._heartbeat(started)
                if loop.time() - pruned_at > EVENT_PRUNE_EVERY_S:
                    pruned_at = loop.time()
                    async with transaction(self._sessions) as db:
                        await repository.prune_events(
                            db, utcnow() - self._settings.event_retention, self._settings.event_keep_per_user
                        )
            except Exception:
                log.exception("worker heartbeat failed")
            await asyncio.sleep(self._settings.lease_s / 3)

    async def _heartbeat(self, started: Any) -> None:
        now = utcnow()
        async with transaction(self._sessions) as db:
            canceled = await repository.extend_leases(
                db, self.id, list(self._running), now + timedelta(seconds=self._settings.lease_s)
            )
            await repository.heartbeat(
                db,
                WorkerRow(
                    id=self.id,
                    host=socket.gethostname()[:255],
                    pid=os.getpid(),
                    concurrency=self._settings.concurrency,
                    running=len(self._running),
                    started=started,
                    heartbeat=now,
                ),
            )
        for job_id in canceled:
            self._stop(job_id, CANCELED)
        await self._recover_expired()

    async def _recover_expired(self) -> None:
        """Jobs whose worker stopped renewing their lease: back to the queue, or failed after the last attempt."""
        async with transaction(self._sessions) as db:
            now = utcnow()
            recovered = []
            for job in await repository.expired_leases(db, now):
                # A job waiting on a provider request it already paid for always resumes: its engine gives
                # up by the provider's own deadline, so a crash loop cannot run forever.
                if job.attempts >= job.max_attempts and job.provider_state is None:
                    values: dict[str, Any] = {
                        "status": FAILED,
                        "error_code": "worker_lost",
                        "error_message": "The worker running this job stopped, on every attempt.",
                        "finished": now,
                        "sealed_key": None,
                        "cost": 0.0,
                    }
                else:
                    values = {
                        "status": QUEUED,
                        "message": WAITING_AGAIN,
                        "run_after": now,
                    }
                moved = await repository.transition(
                    db,
                    job.id,
                    RUNNING,
                    {**values, "updated": now, "lease_until": None, "worker_id": job.worker_id},
                    release=True,
                )
                if moved is not None:
                    await self._jobs.events.record(db, moved)
                    recovered.append(moved.id)
        if recovered:
            log.warning("recovered %d jobs whose worker stopped", len(recovered))
            await self._broker.announce(recovered)

    async def _listen_for_cancels(self) -> None:
        while True:
            async with await self._pubsub.subscribe(CANCEL_CHANNEL) as cancels:
                async for job_id in cancels:
                    self._stop(job_id, CANCELED)

    def _stop(self, job_id: str, reason: str) -> None:
        running = self._running.get(job_id)
        if running is not None and running.stop_reason is None:
            running.stop_reason = reason
            running.stop.set()


def _batches(writes: list[_Write]) -> Iterator[list[_Write]]:
    """A round's writes in order, cut where a job comes again: one statement moves a job at most once."""
    batch: list[_Write] = []
    moving: set[str] = set()
    for write in writes:
        if write.move.job_id in moving:
            yield batch
            batch, moving = [], set()
        batch.append(write)
        moving.add(write.move.job_id)
    if batch:
        yield batch
