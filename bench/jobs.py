"""Jobs benchmark: Artboard's job queue at the broker level and over the wire, beside queue anchors.

Broker level: one worker process running up to BENCH_CONCURRENCY (50) jobs at once, no-op jobs and 10 ms jobs,
every state change committed in the database. Artboard is driven through its real components: ``open_resources``
builds everything (with a benchmark engine put in the catalog: models ``bench:noop`` and ``bench:sleep``), jobs
are submitted with ``Jobs.submit`` in ``transaction(resources.sessions)`` and run by ``Resources.worker.run()``:

* embedded on SQLite and on PostgreSQL: the worker runs in the producer's process, as inside ``artboard serve``;
* the Redis broker on PostgreSQL: the worker runs in a process of its own, as ``artboard worker`` does.

Anchors, in the same invocation, each with its worker in a process of its own: taskiq + taskiq-redis
(``ListQueueBroker``, no-op task), a bare Redis Streams loop (XADD; XREADGROUP up to the free slots; batched
XACK; no durable state) and PgQueuer on PostgreSQL (durable, batched claims).

Each is measured three ways: end to end (one producer awaiting each submit while the worker runs: jobs/s from
the first submit to the last completion), drain (the queue filled first, then emptied) and latency at a steady
BENCH_RATE (200) jobs/s, from the submit to the job finished: for Artboard, the job's final event as the producer
receives it on the pub/sub; for the anchors, the job function's return, stamped in the worker on the same
monotonic clock.

Over the wire: ``artboard serve`` (embedded on SQLite, temp data dir, free port); a signed-in user submits
``sketch:pencil`` jobs on a tiny uploaded image over HTTP at BENCH_RATE jobs/s; latency runs from the POST to the
job's final event on the WebSocket ``/ws`` (else Server-Sent Events, else polling ``GET /api/jobs/{id}``; the
report says which).

Targets: the Redis path >= 1.0x taskiq end to end (2x is the goal); embedded SQLite drains >= 5,000 jobs/s;
p99 <= 10 ms at 200 jobs/s (no-op jobs); over the wire p99 < 50 ms.

Prints a table (with the CPU time per job of the benchmark's own processes, steadier than jobs/s on a busy
machine) and writes bench/results/jobs.json. Settings: BENCH_JOBS (jobs per end-to-end and drain run, default
1000), BENCH_RATE (200), BENCH_LATENCY_S (seconds of steady submits per latency run, 3), BENCH_CONCURRENCY (50),
BENCH_SLOW_MS (10), BENCH_PRODUCERS (concurrent producers end to end, 1), BENCH_WIRE_S (3), BENCH_CASES (a
comma-separated subset of sqlite,postgres,redis,taskiq,streams,pgqueuer,wire). PostgreSQL and Redis come from
ARTBOARD_TEST_PG_URL and ARTBOARD_TEST_REDIS_URL (bench/run sets them), else 127.0.0.1:5432 (user postgres, a
temp database created and dropped) and 127.0.0.1:6379 (keys under a unique prefix, deleted afterwards).
Exits 1 when a case could not be measured; a missed target is reported, not an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import os
import platform
import secrets
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import asyncpg
import httpx
import psutil
import websockets
from pgqueuer import AsyncpgDriver, Queries, QueueManager
from pgqueuer.models import Job as PgJob
from PIL import Image
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import select
from sqlalchemy.engine import make_url
from taskiq.receiver import Receiver
from taskiq_redis import ListQueueBroker

import artboard.resources
import auth
from artboard.config import Settings
from artboard.db import transaction
from artboard.engines.base import EngineResult, JobContext, ModelInfo
from artboard.engines.catalog import Catalog
from artboard.kit.heap import settle_after_startup
from artboard.kit.pubsub import Subscription
from artboard.models import Job
from artboard.models.job import FINISHED, SUCCEEDED
from artboard.resources import Resources, open_resources, running

THIS = Path(__file__).resolve()
ROOT = THIS.parent.parent
RESULTS = ROOT / "bench" / "results" / "jobs.json"
HOST = auth.HOST
CASES = ("sqlite", "postgres", "redis", "taskiq", "streams", "pgqueuer", "wire")
NOOP, SLOW = "no-op", "slow"
MODELS = {NOOP: "bench:noop", SLOW: "bench:sleep"}
TARGET_REDIS_VS_TASKIQ = 1.0
GOAL_REDIS_VS_TASKIQ = 2.0
TARGET_SQLITE_DRAIN = 5000.0
TARGET_P99_MS = 10.0
TARGET_WIRE_P99_MS = 50.0
# Latency runs leave out their first jobs (connections and caches warming up).
WARMUP_SHARE = 0.05
# After a worker starts, before the first submit: it is subscribed and waiting, as a running worker would be.
SETTLE_S = 0.3
# Submits per transaction while filling a queue for a drain (not timed).
FILL_BATCH = 100
START_TIMEOUT_S = 60.0
PASSWORD = "bench-password-1234"
MARK = "@bench "  # what a worker process prints before each line meant for the benchmark


@dataclass(frozen=True)
class Config:
    jobs: int
    rate: float
    latency_s: float
    concurrency: int
    slow_ms: float
    producers: int
    wire_s: float
    cases: tuple[str, ...]
    pg_admin_url: str
    redis_url: str

    def finish_timeout_s(self, jobs: int) -> float:
        """Long enough for a slow machine, short enough that a stuck run ends."""
        return 60.0 + jobs / 10


def env_number(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise auth.BenchError(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise auth.BenchError(f"{name} must be at least {minimum:g}, not {value:g}")
    return value


def load_config() -> Config:
    cases = tuple(c.strip() for c in os.environ.get("BENCH_CASES", ",".join(CASES)).split(",") if c.strip())
    if unknown := sorted(set(cases) - set(CASES)):
        raise auth.BenchError(f"BENCH_CASES: unknown {', '.join(unknown)}; choose from {', '.join(CASES)}")
    return Config(
        jobs=int(env_number("BENCH_JOBS", 1000, 10)),
        rate=env_number("BENCH_RATE", 200, 1),
        latency_s=env_number("BENCH_LATENCY_S", 3, 0.5),
        concurrency=int(env_number("BENCH_CONCURRENCY", 50, 2)),
        slow_ms=env_number("BENCH_SLOW_MS", 10, 0),
        producers=int(env_number("BENCH_PRODUCERS", 1, 1)),
        wire_s=env_number("BENCH_WIRE_S", 3, 0.5),
        cases=cases,
        pg_admin_url=os.environ.get("ARTBOARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        redis_url=os.environ.get("ARTBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )


async def cancel(task: asyncio.Task[Any]) -> None:
    """Cancel and wait, again if need be: on Python 3.11 ``asyncio.wait_for`` swallows a cancellation that comes as
    the awaited thing completes, and ``Worker.run`` waits for its wake-up that way (the loop would run on)."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=2)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()


def cpu_seconds() -> float:
    """CPU time of this process and its worker processes (not of PostgreSQL or Redis; SQLite runs in here)."""
    me = psutil.Process()
    total = 0.0
    for member in (me, *me.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = member.cpu_times()
            total += times.user + times.system
    return total


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# ---- the benchmark engine ------------------------------------------------------------------------------------


class BenchEngine:
    """Jobs whose engine costs nothing (``bench:noop``) or a fixed wait (``bench:sleep``): what is measured is
    the queue around them. No source image, no output image."""

    name = "bench"

    def __init__(self, slow_s: float) -> None:
        self._slow_s = slow_s
        self.models = tuple(
            ModelInfo(
                name=MODELS[kind], display_name=kind, description=what, engine="bench", kind="bench", cost_per_image=0.0
            )
            for kind, what in ((NOOP, "Returns at once."), (SLOW, f"Waits {slow_s * 1000:g} ms."))
        )

    async def run(self, context: JobContext) -> EngineResult:
        if context.model.name == MODELS[SLOW]:
            await asyncio.sleep(self._slow_s)
        return EngineResult(images=[])

    async def close(self) -> None:
        """Holds nothing."""


def install_bench_engine(slow_s: float) -> None:
    """``open_resources`` builds its catalog with ``build_catalog(settings)`` and takes no engines: replace that
    name where ``artboard.resources`` looks it up, so every Resources built here has the benchmark engine."""
    artboard.resources.build_catalog = lambda _settings: Catalog([BenchEngine(slow_s)])  # type: ignore[attr-defined]


def artboard_settings(overrides: dict[str, Any]) -> Settings:
    """Settings from ``overrides`` alone for what matters here (no .env; ARTBOARD_* were cleared in main)."""
    return Settings(_env_file=None, **overrides)


# ---- results -------------------------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    system: str
    kind: str
    durable: str
    e2e_per_s: float | None = None
    submit_per_s: float | None = None
    e2e_cpu_ms: float | None = None  # per job, producer and worker processes
    drain_per_s: float | None = None
    drain_cpu_ms: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    steady_rate_per_s: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class WireResult:
    events_via: str
    jobs: int
    rate_per_s: float
    submit_p50_ms: float
    submit_p99_ms: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float = 0.0  # per job: the server's CPU time over the run
    notes: list[str] = field(default_factory=list)


# ---- the three measurements, the same for every queue ------------------------------------------------------------


class Queue(Protocol):
    """One kind of job on one system, for one measurement."""

    async def start(self, expected: int) -> None:
        """The worker starts taking jobs; ``expected`` of them will be submitted."""

    async def submit(self, index: int) -> str:
        """Queue one job; returns its key."""

    async def fill(self, count: int) -> list[str]:
        """Queue ``count`` jobs as fast as the system allows (untimed: a drain's queue)."""

    async def finished(self, keys: list[str]) -> dict[str, float]:
        """When each job finished (``time.monotonic``), once all have."""


async def end_to_end(queue: Queue, jobs: int, producers: int) -> tuple[float, float, float]:
    """Jobs/s from the first submit to the last completion with the worker running, jobs/s submitted, and CPU
    ms per job."""
    await queue.start(jobs)
    await asyncio.sleep(SETTLE_S)
    indexes = iter(range(jobs))
    keys: list[str] = []

    async def producer() -> None:
        for index in indexes:
            keys.append(await queue.submit(index))

    began, cpu = time.monotonic(), cpu_seconds()
    await asyncio.gather(*(producer() for _ in range(producers)))
    submitted = time.monotonic()
    done = await queue.finished(keys)
    cpu_ms = (cpu_seconds() - cpu) * 1000 / jobs
    return jobs / (max(done.values()) - began), jobs / (submitted - began), cpu_ms


async def drain(queue: Queue, jobs: int) -> tuple[float, float]:
    """Jobs/s emptying a queue filled before the worker started, and CPU ms per job."""
    keys = await queue.fill(jobs)
    began, cpu = time.monotonic(), cpu_seconds()
    await queue.start(jobs)
    done = await queue.finished(keys)
    return jobs / (max(done.values()) - began), (cpu_seconds() - cpu) * 1000 / jobs


async def steady(queue: Queue, rate: float, seconds: float) -> tuple[list[float], float]:
    """Latencies (ms, submit → finished) of jobs submitted on a fixed schedule, and the rate achieved."""
    count = max(2, round(rate * seconds))
    await queue.start(count)
    await asyncio.sleep(SETTLE_S)
    started: dict[str, tuple[int, float]] = {}

    async def one(index: int) -> None:
        at = time.monotonic()
        started[await queue.submit(index)] = (index, at)

    tasks = []
    began = time.monotonic()
    last = began
    for index in range(count):
        if (delay := began + index / rate - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        last = time.monotonic()
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    done = await queue.finished(list(started))
    skip = int(count * WARMUP_SHARE)
    latencies = [(done[key] - at) * 1000 for key, (index, at) in started.items() if index >= skip]
    return latencies, (count - 1) / max(last - began, 1e-9)


class System(Protocol):
    @property
    def case(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def durable(self) -> str: ...

    def queue(self, kind: str) -> contextlib.AbstractAsyncContextManager[Queue]: ...


async def measure(system: System, kind: str, config: Config) -> Row:
    row = Row(system.case, system.label, kind_label(kind, config), system.durable)
    async with system.queue(kind) as queue:
        row.e2e_per_s, row.submit_per_s, row.e2e_cpu_ms = await end_to_end(queue, config.jobs, config.producers)
    async with system.queue(kind) as queue:
        row.drain_per_s, row.drain_cpu_ms = await drain(queue, config.jobs)
    async with system.queue(kind) as queue:
        latencies, row.steady_rate_per_s = await steady(queue, config.rate, config.latency_s)
    row.p50_ms, row.p99_ms = percentile(latencies, 0.5), percentile(latencies, 0.99)
    return row


def kind_label(kind: str, config: Config) -> str:
    return NOOP if kind == NOOP else f"{config.slow_ms:g} ms"


# ---- worker processes -----------------------------------------------------------------------------------------


class Child:
    """A worker process of this benchmark (``jobs.py --worker SPEC``), one per case, spoken to over its stdin
    and stdout: ``ready``; per measurement ``go PHASE`` → ``going`` (an anchor then says ``done`` with when each
    job returned), ``halt`` → ``halted``; ``stop``."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self._process = process
        self._log = log

    @classmethod
    async def spawn(cls, spec: dict[str, Any], log: Path) -> Child:
        with log.open("ab") as errors:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(THIS),
                "--worker",
                json.dumps(spec),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                limit=1 << 26,  # a worker's report of its completions is one line
            )
        child = cls(process, log)
        try:
            await child.expect("ready", START_TIMEOUT_S)
        except BaseException:
            await child.stop()
            raise
        return child

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-15:]) or "(empty log)"
        return "(no log)"

    async def expect(self, word: str, timeout_s: float) -> Any:
        """Wait for the worker to say ``word``; returns what it said with it."""
        assert self._process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = await asyncio.wait_for(self._process.stdout.readline(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                raise auth.BenchError(f"worker did not say {word!r} within {timeout_s:.0f}s:\n{self._tail()}") from None
            if not line:
                code = await self._process.wait()
                raise auth.BenchError(f"worker exited ({code}) before saying {word!r}:\n{self._tail()}")
            text = line.decode(errors="replace").rstrip("\n")
            if text.startswith(MARK):
                said, _, payload = text.removeprefix(MARK).partition(" ")
                if said == word:
                    return json.loads(payload) if payload else None

    async def say(self, word: str) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(f"{word}\n".encode())
        await self._process.stdin.drain()

    async def go(self, phase: dict[str, Any]) -> None:
        await self.say("go " + json.dumps(phase))
        await self.expect("going", START_TIMEOUT_S)

    async def halt(self) -> None:
        await self.say("halt")
        await self.expect("halted", START_TIMEOUT_S)

    async def stop(self) -> None:
        if self._process.returncode is None:
            assert self._process.stdin is not None
            with contextlib.suppress(ConnectionError):
                await self.say("stop")
                self._process.stdin.close()
            try:
                await asyncio.wait_for(self._process.wait(), 20)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


def tell(word: str, payload: Any = None) -> None:
    """From a worker process: a line for the benchmark."""
    print(MARK + word + ("" if payload is None else " " + json.dumps(payload)), flush=True)


async def heard() -> str:
    """In a worker process: the benchmark's next word (``stop`` once it has gone)."""
    return (await asyncio.to_thread(sys.stdin.readline)).strip() or "stop"


class Completions:
    """In an anchor's worker process: when each job function returned."""

    def __init__(self, expected: int) -> None:
        self.times: dict[str, float] = {}
        self.all_done = asyncio.Event()
        self._expected = expected

    def record(self, key: str) -> None:
        self.times[key] = time.monotonic()
        if len(self.times) >= self._expected:
            self.all_done.set()


Consume = Callable[[dict[str, Any], Completions], Coroutine[Any, Any, None]]


async def worker_loop(consume: Consume) -> None:
    """A worker process's side of the protocol (see ``Child``): ``consume`` takes jobs from ``go`` to ``halt``."""
    tell("ready")
    while (word := await heard()) != "stop":
        phase = json.loads(word.removeprefix("go "))
        completions = Completions(phase["expected"])
        work = asyncio.create_task(consume(phase, completions))
        tell("going")
        if phase["expected"]:
            all_done = asyncio.create_task(completions.all_done.wait())
            await asyncio.wait([work, all_done], return_when=asyncio.FIRST_COMPLETED)
            all_done.cancel()
            if work.done():
                work.result()  # it stopped early: raise why
            tell("done", completions.times)
        await heard()
        await cancel(work)
        tell("halted")


class ChildQueue:
    """What every queue with its worker in a child process shares: go on start, halt on close."""

    def __init__(self, child: Child, phase: dict[str, Any]) -> None:
        self._child = child
        self._phase = phase
        self._going = False

    async def start(self, expected: int) -> None:
        self._going = True
        await self._child.go({**self._phase, "expected": expected})

    async def close(self) -> None:
        if self._going:
            await self._child.halt()


class AnchorQueue(ChildQueue):
    """An anchor: the producer in this process, the worker (which times the jobs) in the case's child process."""

    def __init__(self, child: Child, phase: dict[str, Any], producer: AnchorProducer, timeout_s: float) -> None:
        super().__init__(child, phase)
        self._producer = producer
        self._timeout_s = timeout_s

    async def submit(self, index: int) -> str:
        await self._producer.submit(index)
        return str(index)

    async def fill(self, count: int) -> list[str]:
        await self._producer.fill(count)
        return [str(index) for index in range(count)]

    async def finished(self, keys: list[str]) -> dict[str, float]:
        times: dict[str, float] = await self._child.expect("done", self._timeout_s)
        return times


# ---- Artboard ---------------------------------------------------------------------------------------------------


class Finishes:
    """When each of one user's jobs finished, as a producer sees it: the job's final event on the user's channel.

    Should the subscription end as lost (events may be missing), the jobs not seen finishing are timed from their
    rows' ``finished`` column instead, and the report says how many."""

    def __init__(self, resources: Resources, owner_id: str) -> None:
        self._resources = resources
        self._owner_id = owner_id
        self.times: dict[str, float] = {}
        self.statuses: dict[str, str] = {}
        self.from_rows = 0
        self._arrived = asyncio.Event()
        self._lost = False
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Finishes:
        subscription = await self._resources.jobs.events.subscribe(self._owner_id)
        self._reader = asyncio.create_task(self._read(subscription))
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._reader is not None:
            await cancel(self._reader)

    async def _read(self, subscription: Subscription) -> None:
        try:
            async for message in subscription:
                job = json.loads(message)["job"]
                if job["status"] in FINISHED and job["id"] not in self.times:
                    self.times[job["id"]] = time.monotonic()
                    self.statuses[job["id"]] = job["status"]
                    self._arrived.set()
            self._lost = subscription.lost
        finally:
            subscription.close()

    async def wait(self, keys: list[str], timeout_s: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout_s
        while missing := [key for key in keys if key not in self.times]:
            if time.monotonic() > deadline:
                raise auth.BenchError(f"{len(missing)} of {len(keys)} jobs did not finish within {timeout_s:.0f}s")
            if self._lost:
                await self._read_rows(missing)
                await asyncio.sleep(0.05)
                continue
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), 1.0)
        failed = [f"{key}: {self.statuses[key]}" for key in keys if self.statuses[key] != SUCCEEDED]
        if failed:
            raise auth.BenchError(f"{len(failed)} jobs did not succeed, e.g. {failed[0]}")
        return {key: self.times[key] for key in keys}

    async def _read_rows(self, keys: list[str]) -> None:
        wall_minus_monotonic = time.time() - time.monotonic()
        async with self._resources.sessions() as db:
            for first in range(0, len(keys), 500):
                query = select(Job.id, Job.status, Job.finished).where(Job.id.in_(keys[first : first + 500]))
                for job_id, status, finished in (await db.execute(query)).all():
                    if status in FINISHED and finished is not None and job_id not in self.times:
                        self.times[job_id] = finished.timestamp() - wall_minus_monotonic
                        self.statuses[job_id] = status
                        self.from_rows += 1


class ArtboardQueue:
    """One user's jobs of one model, submitted through ``Jobs.submit``; the worker in this process or a child."""

    def __init__(self, system: ArtboardSystem, kind: str, owner_id: str, finishes: Finishes) -> None:
        self._system = system
        self._resources = system.resources
        self._model = MODELS[kind]
        self._owner_id = owner_id
        self._finishes = finishes
        self._worker: asyncio.Task[None] | None = None
        self._remote = ChildQueue(system.child, {}) if system.child is not None else None

    async def start(self, expected: int) -> None:
        if self._remote is not None:
            await self._remote.start(0)  # the worker process times nothing: the producer hears the events
        else:
            self._worker = asyncio.create_task(self._resources.worker.run())

    async def submit(self, index: int) -> str:
        async with transaction(self._resources.sessions) as db:
            submitted = await self._resources.jobs.submit(db, self._owner_id, self._model, {})
        return submitted.job.id

    async def fill(self, count: int) -> list[str]:
        keys = []
        for first in range(0, count, FILL_BATCH):
            async with transaction(self._resources.sessions) as db:
                for _ in range(min(FILL_BATCH, count - first)):
                    keys.append((await self._resources.jobs.submit(db, self._owner_id, self._model, {})).job.id)
        return keys

    async def finished(self, keys: list[str]) -> dict[str, float]:
        if self._worker is not None and self._worker.done():
            self._worker.result()  # it stopped: raise why
        return await self._finishes.wait(keys, self._system.config.finish_timeout_s(len(keys)))

    async def close(self) -> None:
        if self._remote is not None:
            await self._remote.close()
        if self._worker is not None:
            await cancel(self._worker)
        if self._finishes.from_rows:
            self._system.notes.add(f"{self._finishes.from_rows} completions timed from rows (events lost)")


class ArtboardSystem:
    """Artboard's queue as ``open_resources`` builds it; each measurement gets a user of its own."""

    def __init__(
        self, case: str, label: str, overrides: dict[str, Any], config: Config, log: Path, worker_in_child: bool
    ) -> None:
        self.case = case
        self.label = label
        self.durable = "job row + an event per state change, committed"
        self.config = config
        self.notes: set[str] = set()
        self.child: Child | None = None
        self.resources: Resources
        self._overrides = overrides
        self._log = log
        self._worker_in_child = worker_in_child
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> ArtboardSystem:
        try:
            settings = artboard_settings(self._overrides)
            self.resources = await self._stack.enter_async_context(open_resources(settings))
            settle_after_startup()  # as `artboard serve` does once its app is built
            await self._stack.enter_async_context(running([self.resources.pubsub.run()]))
            if self._worker_in_child:
                spec = {"system": "artboard", "settings": self._overrides, "slow_ms": self.config.slow_ms}
                self.child = await Child.spawn(spec, self._log)
                self._stack.push_async_callback(self.child.stop)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._stack.aclose()

    @asynccontextmanager
    async def queue(self, kind: str) -> AsyncIterator[Queue]:
        async with transaction(self.resources.sessions) as db:
            user = await self.resources.accounts.register(db, f"bench-{secrets.token_hex(6)}@example.com", PASSWORD)
        async with Finishes(self.resources, user.id) as finishes:
            queue = ArtboardQueue(self, kind, user.id, finishes)
            try:
                yield queue
            finally:
                await queue.close()


async def artboard_worker(spec: dict[str, Any]) -> None:
    """The Redis path's worker process: ``Resources.worker.run()`` beside the pub/sub, as ``artboard worker``."""
    install_bench_engine(spec["slow_ms"] / 1000)
    async with open_resources(artboard_settings(spec["settings"])) as resources, running([resources.pubsub.run()]):
        settle_after_startup()  # as `artboard worker` does

        async def consume(_phase: dict[str, Any], _completions: Completions) -> None:
            await resources.worker.run()

        await worker_loop(consume)


def artboard_overrides(
    config: Config, data_dir: Path, database_url: str, redis_url: str | None = None
) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "data_dir": str(data_dir),
        "database_url": database_url,
        "max_concurrent_tasks": config.concurrency,
        "max_running_per_user": config.concurrency,  # one user's jobs fill every slot
        "max_queued_per_user": 2 * max(config.jobs, round(config.rate * config.latency_s)),
        "log_level": "warning",
    }
    if redis_url is not None:
        overrides |= {"broker": "redis", "redis_url": redis_url, "redis_stream": f"{data_dir.name}:artboard:jobs"}
    return overrides


# ---- anchors ------------------------------------------------------------------------------------------------


def pause_of(spec: dict[str, Any], phase: dict[str, Any]) -> float:
    return spec["slow_ms"] / 1000 if phase["kind"] == SLOW else 0.0


def taskiq_broker(url: str, queue_name: str, pause_s: float, completions: Completions | None) -> ListQueueBroker:
    """taskiq-redis's list broker with one task: a no-op, or a fixed wait (its worker stamps each return)."""
    broker = ListQueueBroker(url, queue_name=queue_name)

    @broker.task(task_name="bench")
    async def bench(key: int) -> None:
        if pause_s:
            await asyncio.sleep(pause_s)
        if completions is not None:
            completions.record(str(key))

    return broker


async def taskiq_worker(spec: dict[str, Any]) -> None:
    """taskiq's own Receiver, set up as ``taskiq worker`` does (a thread pool for sync tasks, params validated)."""

    async def consume(phase: dict[str, Any], completions: Completions) -> None:
        broker = taskiq_broker(spec["redis_url"], phase["name"], pause_of(spec, phase), completions)
        broker.is_worker_process = True
        await broker.startup()
        try:
            with ThreadPoolExecutor() as pool:
                receiver = Receiver(broker, executor=pool, max_async_tasks=spec["concurrency"], run_startup=False)
                await receiver.listen(asyncio.Event())
        finally:
            await broker.shutdown()

    await worker_loop(consume)


async def streams_worker(spec: dict[str, Any]) -> None:
    """The thin loop: XREADGROUP up to the free slots, a task per entry, acknowledgements batched."""
    redis = Redis.from_url(spec["redis_url"])

    async def consume(phase: dict[str, Any], completions: Completions) -> None:
        stream, group, pause_s = phase["name"], "bench", pause_of(spec, phase)
        free = spec["concurrency"]
        finished: list[bytes] = []
        slot = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()

        async def run(entry_id: bytes, key: str) -> None:
            nonlocal free
            if pause_s:
                await asyncio.sleep(pause_s)
            completions.record(key)
            finished.append(entry_id)
            free += 1
            slot.set()

        with contextlib.suppress(ResponseError):  # BUSYGROUP: made already
            await redis.xgroup_create(stream, group, id="0", mkstream=True)
        while True:
            if finished:
                acknowledged, finished[:] = list(finished), []
                await redis.xack(stream, group, *acknowledged)
            if free == 0:
                slot.clear()
                await slot.wait()
                continue
            reply: Any = await redis.xreadgroup(group, "worker", {stream: ">"}, count=free, block=100)
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    free -= 1
                    task = asyncio.create_task(run(entry_id, fields[b"k"].decode()))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

    try:
        await worker_loop(consume)
    finally:
        await redis.aclose()


async def pgqueuer_worker(spec: dict[str, Any]) -> None:
    """PgQueuer's QueueManager: LISTEN/NOTIFY wake-ups, batched claims, completions logged in batches."""

    async def consume(phase: dict[str, Any], completions: Completions) -> None:
        connection = await asyncpg.connect(spec["dsn"])
        manager = QueueManager(Queries(AsyncpgDriver(connection)))
        pause_s = pause_of(spec, phase)

        @manager.entrypoint(phase["entrypoint"])
        async def bench(job: PgJob) -> None:
            if pause_s:
                await asyncio.sleep(pause_s)
            completions.record((job.payload or b"").decode())

        try:
            batch = max(1, min(25, spec["concurrency"] // 2))  # its best batch here; the cap must be >= 2 batches
            await manager.run(batch_size=batch, max_concurrent_tasks=spec["concurrency"])
        finally:
            manager.shutdown.set()
            with contextlib.suppress(Exception):
                await connection.close(timeout=5)

    await worker_loop(consume)


@dataclass
class AnchorProducer:
    submit: Callable[[int], Awaitable[None]]
    fill: Callable[[int], Awaitable[None]]
    phase: dict[str, Any]  # what the worker needs to find this run's queue


class AnchorSystem:
    """An anchor: its worker process for the whole case, a producer and a queue of its own per measurement."""

    def __init__(
        self,
        case: str,
        label: str,
        durable: str,
        config: Config,
        log: Path,
        producer: Callable[[str, dict[str, Any]], contextlib.AbstractAsyncContextManager[AnchorProducer]],
        spec: dict[str, Any],
    ) -> None:
        self.case = case
        self.label = label
        self.durable = durable
        self._config = config
        self._log = log
        self._producer = producer
        self._spec = {**spec, "slow_ms": config.slow_ms, "concurrency": config.concurrency}
        self._child: Child | None = None
        self._runs = 0

    async def __aenter__(self) -> AnchorSystem:
        self._child = await Child.spawn(self._spec, self._log)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._child is not None:
            await self._child.stop()

    @asynccontextmanager
    async def queue(self, kind: str) -> AsyncIterator[Queue]:
        assert self._child is not None
        self._runs += 1
        name = f"{self._spec['prefix']}{self.case}-{self._runs}"  # a queue of its own for every run
        async with self._producer(name, self._spec) as producer:
            timeout_s = self._config.finish_timeout_s(self._config.jobs)
            queue = AnchorQueue(self._child, {"kind": kind, **producer.phase}, producer, timeout_s)
            try:
                yield queue
            finally:
                await queue.close()


@asynccontextmanager
async def taskiq_producer(name: str, spec: dict[str, Any]) -> AsyncIterator[AnchorProducer]:
    broker = taskiq_broker(spec["redis_url"], name, 0.0, None)
    await broker.startup()
    task = broker.find_task("bench")
    assert task is not None

    async def submit(index: int) -> None:
        await task.kiq(index)

    async def fill(count: int) -> None:
        for index in range(count):
            await task.kiq(index)

    try:
        yield AnchorProducer(submit, fill, {"name": name})
    finally:
        await broker.shutdown()


@asynccontextmanager
async def streams_producer(name: str, spec: dict[str, Any]) -> AsyncIterator[AnchorProducer]:
    redis = Redis.from_url(spec["redis_url"])

    async def submit(index: int) -> None:
        await redis.xadd(name, {"k": index})

    async def fill(count: int) -> None:
        for first in range(0, count, 500):
            async with redis.pipeline(transaction=False) as pipe:
                for index in range(first, min(count, first + 500)):
                    pipe.xadd(name, {"k": index})
                await pipe.execute()

    try:
        yield AnchorProducer(submit, fill, {"name": name})
    finally:
        await redis.aclose()


@asynccontextmanager
async def pgqueuer_producer(name: str, spec: dict[str, Any]) -> AsyncIterator[AnchorProducer]:
    connection = await asyncpg.connect(spec["dsn"])
    queries = Queries(AsyncpgDriver(connection))

    async def submit(index: int) -> None:
        await queries.enqueue(name, str(index).encode())

    async def fill(count: int) -> None:
        for first in range(0, count, 500):
            indexes = range(first, min(count, first + 500))
            await queries.enqueue([name] * len(indexes), [str(i).encode() for i in indexes], [0] * len(indexes))

    try:
        yield AnchorProducer(submit, fill, {"entrypoint": name})
    finally:
        await connection.close()


# ---- databases and keys -----------------------------------------------------------------------------------------


@asynccontextmanager
async def temp_database(admin_url: str, purpose: str) -> AsyncIterator[str]:
    """A new PostgreSQL database (dropped afterwards); yields its plain ``postgresql://`` URL."""
    admin = make_url(admin_url).set(drivername="postgresql")
    name = f"bench_jobs_{secrets.token_hex(4)}_{purpose}"
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


async def drop_keys(redis_url: str, prefix: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        async for key in redis.scan_iter(match=f"{prefix}*", count=1000):
            await redis.delete(key)
    finally:
        await redis.aclose()


def asyncpg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


# ---- the broker-level cases -------------------------------------------------------------------------------------

ARTBOARD_LABELS = {
    "sqlite": "artboard embedded, SQLite",
    "postgres": "artboard embedded, PostgreSQL",
    "redis": "artboard Redis broker, PostgreSQL",
}
ANCHORS: dict[str, tuple[str, str, Callable[..., contextlib.AbstractAsyncContextManager[AnchorProducer]]]] = {
    "taskiq": ("taskiq + taskiq-redis (list)", "none (Redis list, at most once)", taskiq_producer),
    "streams": ("bare Redis Streams loop", "none (stream entries only)", streams_producer),
    "pgqueuer": ("PgQueuer, PostgreSQL", "job row until done + log rows", pgqueuer_producer),
}


async def build_system(stack: AsyncExitStack, case: str, config: Config, work: Path, prefix: str) -> System:
    """One case's system, ready to measure; ``stack`` drops its databases and stops its processes."""
    log = work / f"{case}.log"
    if case in ARTBOARD_LABELS:
        data_dir = work / f"{prefix}{case}"
        if case == "sqlite":
            url = f"sqlite+aiosqlite:///{data_dir / 'artboard.db'}"
        else:
            url = asyncpg_url(await stack.enter_async_context(temp_database(config.pg_admin_url, case)))
        overrides = artboard_overrides(config, data_dir, url, config.redis_url if case == "redis" else None)
        system = ArtboardSystem(case, ARTBOARD_LABELS[case], overrides, config, log, worker_in_child=case == "redis")
        return await stack.enter_async_context(system)
    label, durable, producer = ANCHORS[case]
    spec: dict[str, Any] = {"system": case, "prefix": prefix, "redis_url": config.redis_url}
    if case == "pgqueuer":
        spec["dsn"] = await stack.enter_async_context(temp_database(config.pg_admin_url, case))
        connection = await asyncpg.connect(spec["dsn"])
        try:
            await Queries(AsyncpgDriver(connection)).install()
        finally:
            await connection.close()
    return await stack.enter_async_context(AnchorSystem(case, label, durable, config, log, producer, spec))


async def run_case(case: str, config: Config, work: Path, prefix: str) -> list[Row]:
    """Measure one case with no-op and slow jobs; its databases, keys and processes are gone afterwards."""
    async with AsyncExitStack() as stack:
        stack.push_async_callback(drop_keys, config.redis_url, prefix)
        system = await build_system(stack, case, config, work, prefix)
        rows = []
        for kind in (NOOP, SLOW):
            print(f"  {system.label}, {kind_label(kind, config)} jobs ...", flush=True)
            rows.append(await measure(system, kind, config))
        if isinstance(system, ArtboardSystem):
            for row in rows:
                row.notes += sorted(system.notes)
        return rows


def child_main(spec_json: str) -> int:
    """``jobs.py --worker SPEC``: the worker process of one case."""
    spec = json.loads(spec_json)
    workers: dict[str, Callable[[dict[str, Any]], Coroutine[Any, Any, None]]] = {
        "artboard": artboard_worker,
        "taskiq": taskiq_worker,
        "streams": streams_worker,
        "pgqueuer": pgqueuer_worker,
    }
    asyncio.run(workers[spec["system"]](spec))
    return 0


# ---- over the wire ----------------------------------------------------------------------------------------------


class ChannelUnavailable(Exception):
    """This way of hearing about finished jobs does not work on this server (yet)."""


class Arrivals:
    """Final states of jobs as the client learns them, and when."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.statuses: dict[str, str] = {}
        self.changed = asyncio.Event()

    def note(self, event: Any) -> None:
        job = event.get("job") if isinstance(event, dict) else None
        if isinstance(job, dict) and job.get("status") in FINISHED and job.get("id") not in self.times:
            self.times[job["id"]] = time.monotonic()
            self.statuses[job["id"]] = job["status"]
            self.changed.set()

    async def wait(self, ids: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while missing := [job_id for job_id in ids if job_id not in self.times]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(missing)} of {len(ids)} jobs not reported finished within {timeout_s:.0f}s")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 0.5)


async def websocket_events(base: str, token: str, arrivals: Arrivals, _client: httpx.AsyncClient) -> None:
    url = base.replace("http://", "ws://", 1) + f"/ws?token={token}"
    try:
        async with websockets.connect(url, open_timeout=5, max_size=None) as socket:
            async for raw in socket:
                arrivals.note(json.loads(raw))
    except (websockets.InvalidHandshake, websockets.ConnectionClosed, OSError) as exc:
        raise ChannelUnavailable(f"WebSocket /ws: {exc}") from None


async def sse_events(_base: str, _token: str, arrivals: Arrivals, client: httpx.AsyncClient) -> None:
    headers = {"Accept": "text/event-stream"}
    async with client.stream("GET", "/api/jobs/events", headers=headers, timeout=None) as response:
        kind = response.headers.get("content-type", "")
        if response.status_code != 200 or not kind.startswith("text/event-stream"):
            raise ChannelUnavailable(f"SSE /api/jobs/events: {response.status_code} {kind}")
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                arrivals.note(json.loads(line[5:]))


class Polling:
    """The fallback: GET /api/jobs/{id} for every unfinished job, every POLL_S."""

    POLL_S = 0.01

    def __init__(self) -> None:
        self.watching: set[str] = set()

    async def __call__(self, _base: str, _token: str, arrivals: Arrivals, client: httpx.AsyncClient) -> None:
        async def look(job_id: str) -> None:
            response = await client.get(f"/api/jobs/{job_id}")
            if response.status_code == 200:
                arrivals.note({"job": response.json()})

        while True:
            pending = [job_id for job_id in self.watching if job_id not in arrivals.times]
            await asyncio.gather(*(look(job_id) for job_id in pending))
            await asyncio.sleep(self.POLL_S)


def tiny_jpeg() -> bytes:
    """A 64x48 gradient: a real image for ``sketch:pencil`` that costs next to nothing to draw."""
    image = Image.linear_gradient("L").resize((64, 48)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def start_server(stack: ExitStack, config: Config, client: httpx.Client) -> tuple[str, str, str, int]:
    """``artboard serve`` embedded on SQLite; returns (base URL, token, id of an uploaded image, server pid)."""
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-jobs-wire-")))
    port = auth.free_port()
    argv = [auth.require_tool(auth.VENV_BIN / "artboard", "install Artboard into .venv (bench/run does)")]
    argv += ["serve", "--host", HOST, "--port", str(port), "--data-dir", str(work / "data")]
    env = auth.artboard_env() | {
        "ARTBOARD_LOG_LEVEL": "warning",
        "ARTBOARD_MAX_CONCURRENT_TASKS": str(config.concurrency),
        "ARTBOARD_MAX_RUNNING_PER_USER": str(config.concurrency),
        "ARTBOARD_MAX_QUEUED_PER_USER": "100000",
    }
    server = stack.enter_context(auth.running(auth.Server("artboard", argv, work, env, work / "server.log")))
    base = f"http://{HOST}:{port}"
    server.wait_healthy(client, f"{base}/health")
    credentials = {"email": "bench@example.com", "password": PASSWORD}
    auth.expect(client.post(f"{base}/auth/register", json=credentials), 201, "register")
    token: str = auth.expect(client.post(f"{base}/auth/login", json=credentials), 200, "login")["access_token"]
    files = {"file": ("tiny.jpg", tiny_jpeg(), "image/jpeg")}
    upload = client.post(f"{base}/api/images", files=files, headers={"Authorization": f"Bearer {token}"})
    image_id: str = auth.expect(upload, 201, "upload an image")["id"]
    return base, token, image_id, server.process.pid


async def over_the_wire(base: str, token: str, image_id: str, pid: int, config: Config) -> WireResult:
    body = {"model": "sketch:pencil", "image_id": image_id, "parameters": {"method": "basic"}}
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends them: reusing one the server is closing
    # at that moment fails the request with ReadError.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=2.0)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits, trust_env=False) as client:

        async def submit() -> str:
            response = await client.post("/api/jobs", json=body)
            if response.status_code != 202:
                raise auth.BenchError(f"POST /api/jobs: expected 202, got {response.status_code}: {response.text}")
            job_id: str = response.json()["id"]
            return job_id

        polling = Polling()
        channels: list[tuple[str, Any]] = [
            ("WebSocket /ws", websocket_events),
            ("SSE /api/jobs/events", sse_events),
            ("polling GET /api/jobs/{id}", polling),
        ]
        notes: list[str] = []
        for name, listen in channels:
            arrivals = Arrivals()
            listener = asyncio.create_task(listen(base, token, arrivals, client))
            try:
                await asyncio.sleep(SETTLE_S)
                if listener.done():
                    listener.result()  # raises why it stopped
                warmup = [await submit() for _ in range(5)]
                polling.watching.update(warmup)
                await arrivals.wait(warmup, 30)  # also pays for the first sketch's imports
                cpu = auth.cpu_seconds(pid)
                result = await wire_run(config, submit, arrivals, polling, listener, name, notes)
                result.server_cpu_ms = (auth.cpu_seconds(pid) - cpu) * 1000 / result.jobs
                return result
            except (ChannelUnavailable, TimeoutError) as exc:
                notes.append(f"{name} not usable: {exc}")
                print(f"  {name} not usable ({exc}); trying the next way", flush=True)
            finally:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
        raise auth.BenchError("no way to hear that a job finished: " + "; ".join(notes))


async def wire_run(
    config: Config,
    submit: Callable[[], Awaitable[str]],
    arrivals: Arrivals,
    polling: Polling,
    listener: asyncio.Task[None],
    channel: str,
    notes: list[str],
) -> WireResult:
    count = max(2, round(config.rate * config.wire_s))
    started: dict[str, tuple[int, float]] = {}
    submit_ms: list[float] = []

    async def one(index: int) -> None:
        at = time.monotonic()
        job_id = await submit()
        submit_ms.append((time.monotonic() - at) * 1000)
        started[job_id] = (index, at)
        polling.watching.add(job_id)

    print(f"  over the wire: {count} sketch:pencil jobs at {config.rate:g}/s, events via {channel}", flush=True)
    tasks = []
    began = time.monotonic()
    last = began
    for index in range(count):
        if (delay := began + index / config.rate - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        last = time.monotonic()
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    waiting = asyncio.create_task(arrivals.wait(list(started), config.finish_timeout_s(count)))
    await asyncio.wait([waiting, listener], return_when=asyncio.FIRST_COMPLETED)
    if not waiting.done():
        waiting.cancel()
        listener.result()
        raise auth.BenchError(f"the {channel} listener stopped before every job was reported")
    waiting.result()
    failed = [f"{job_id}: {arrivals.statuses[job_id]}" for job_id in started if arrivals.statuses[job_id] != SUCCEEDED]
    if failed:
        raise auth.BenchError(f"{len(failed)} sketch jobs did not succeed, e.g. {failed[0]}")
    skip = int(count * WARMUP_SHARE)
    latencies = [(arrivals.times[job_id] - at) * 1000 for job_id, (index, at) in started.items() if index >= skip]
    return WireResult(
        events_via=channel,
        jobs=count,
        rate_per_s=(count - 1) / max(last - began, 1e-9),
        submit_p50_ms=percentile(submit_ms, 0.5),
        submit_p99_ms=percentile(submit_ms, 0.99),
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        notes=notes,
    )


# ---- report -----------------------------------------------------------------------------------------------------


def verdict(met: bool | None) -> str:
    return "not measured" if met is None else "MET" if met else "NOT MET"


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(rows: list[Row], config: Config) -> None:
    header = (
        f"{'system':<34} {'jobs':<6} {'e2e/s':>7} {'submit/s':>8} {'cpu ms':>6} {'drain/s':>8} {'cpu ms':>6}"
        f" {'p50 ms':>8} {'p99 ms':>8} {'at /s':>5}  durable state"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.system:<34} {row.kind:<6} {number(row.e2e_per_s):>7} {number(row.submit_per_s):>8}"
            f" {number(row.e2e_cpu_ms, 2):>6} {number(row.drain_per_s):>8} {number(row.drain_cpu_ms, 2):>6}"
            f" {number(row.p50_ms, 1):>8} {number(row.p99_ms, 1):>8} {number(row.steady_rate_per_s):>5}  {row.durable}"
        )
        for note in row.notes:
            print(f"{'':<34} note: {note}")


def find(rows: list[Row], case: str, kind: str) -> Row | None:
    return next((row for row in rows if row.case == case and row.kind == kind), None)


def judge(rows: list[Row], wire: WireResult | None) -> tuple[dict[str, Any], list[str]]:
    """The targets: each ratio or figure, and whether it is met (None: not measured this run)."""
    lines = []
    redis, taskiq = find(rows, "redis", NOOP), find(rows, "taskiq", NOOP)
    ratio = redis.e2e_per_s / taskiq.e2e_per_s if redis and taskiq and redis.e2e_per_s and taskiq.e2e_per_s else None
    met: dict[str, bool | None] = {"redis_vs_taskiq_e2e": None if ratio is None else ratio >= TARGET_REDIS_VS_TASKIQ}
    goal = "" if ratio is None else f" (goal {GOAL_REDIS_VS_TASKIQ:g}x: {verdict(ratio >= GOAL_REDIS_VS_TASKIQ)})"
    lines.append(
        f"Redis path / taskiq, end to end, no-op:         {number(ratio, 2)}x  target >= {TARGET_REDIS_VS_TASKIQ:g}x:"
        f" {verdict(met['redis_vs_taskiq_e2e'])}{goal}"
    )
    sqlite = find(rows, "sqlite", NOOP)
    drained = sqlite.drain_per_s if sqlite else None
    met["sqlite_drain"] = None if drained is None else drained >= TARGET_SQLITE_DRAIN
    lines.append(
        f"Embedded SQLite drain, no-op:                   {number(drained)}/s  target >= {TARGET_SQLITE_DRAIN:,.0f}/s:"
        f" {verdict(met['sqlite_drain'])}"
    )
    for case in ("sqlite", "postgres", "redis"):
        row = find(rows, case, NOOP)
        p99 = row.p99_ms if row else None
        met[f"p99_{case}"] = None if p99 is None else p99 <= TARGET_P99_MS
        lines.append(
            f"p99 at {number(row.steady_rate_per_s if row else None)}/s, no-op, {case + ':':<9}            "
            f"{number(p99, 2)} ms  target <= {TARGET_P99_MS:g} ms: {verdict(met[f'p99_{case}'])}"
        )
    met["wire_p99"] = None if wire is None else wire.p99_ms < TARGET_WIRE_P99_MS
    via = f" (events via {wire.events_via})" if wire else ""
    lines.append(
        f"Over the wire p99, HTTP submit -> completion:  {number(wire.p99_ms if wire else None, 2)} ms"
        f"  target < {TARGET_WIRE_P99_MS:g} ms: {verdict(met['wire_p99'])}{via}"
    )
    return {"redis_vs_taskiq_e2e": ratio, "met": met}, lines


def main() -> int:
    for name in list(os.environ):  # no setting of a developer's shell reaches the Artboard built here
        if (
            name.startswith("ARTBOARD_") and not name.startswith("ARTBOARD_TEST_")
        ) or name in auth.ARTBOARD_ENV_ALIASES:
            del os.environ[name]
    config = load_config()
    install_bench_engine(config.slow_ms / 1000)
    cpus = os.cpu_count() or 1
    load_before = os.getloadavg()
    notes = [
        "Artboard embedded: the worker runs in the producer's process (as in `artboard serve`); the Redis path and "
        "every anchor run their worker in a process of its own.",
        f"One producer awaits each submit end to end (BENCH_PRODUCERS={config.producers}); an Artboard submit is a "
        "transaction (job row, its first event, announce after commit), an anchor's is one enqueue.",
        "Artboard latency ends when the producer receives the job's final event (after the finishing commit); an "
        "anchor's when its job function returns in the worker.",
        f"Machine: {cpus} CPUs, load average {load_before[0]:.2f} at the start: producer, worker, database and Redis "
        "share them.",
    ]
    print(
        f"jobs benchmark: {config.jobs} jobs end to end and drained, {config.rate:g}/s for {config.latency_s:g}s "
        f"for latency, {config.concurrency} at once, slow jobs {config.slow_ms:g} ms; cases: {', '.join(config.cases)}"
    )
    for note in notes:
        print(f"  note: {note}")
    rows: list[Row] = []
    failures: list[str] = []
    wire: WireResult | None = None
    prefix = f"bench-jobs-{secrets.token_hex(4)}-"
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        work = Path(tmp)
        for case in config.cases:
            if case == "wire":
                continue
            try:
                rows += asyncio.run(run_case(case, config, work, prefix))
            except Exception as exc:
                failures.append(f"{case}: {exc!r}")
                print(f"  {case}: could not measure: {exc!r}", flush=True)
                traceback.print_exc()
        if "wire" in config.cases:
            try:
                with ExitStack() as stack, httpx.Client(timeout=10.0, trust_env=False) as client:
                    base, token, image_id, pid = start_server(stack, config, client)
                    wire = asyncio.run(over_the_wire(base, token, image_id, pid, config))
            except Exception as exc:
                failures.append(f"wire: {exc!r}")
                print(f"  wire: could not measure: {exc!r}", flush=True)
    load_after = os.getloadavg()
    print()
    print_table(rows, config)
    if wire is not None:
        print(
            f"\nOver the wire (artboard serve, embedded SQLite, sketch:pencil on a 64x48 JPEG, events via "
            f"{wire.events_via}): {wire.jobs} jobs at {wire.rate_per_s:.0f}/s; POST p50/p99 "
            f"{wire.submit_p50_ms:.2f}/{wire.submit_p99_ms:.2f} ms; POST -> completion event p50/p99 "
            f"{wire.p50_ms:.2f}/{wire.p99_ms:.2f} ms; server CPU {wire.server_cpu_ms:.2f} ms per job"
        )
        for note in wire.notes:
            print(f"  note: {note}")
    targets, lines = judge(rows, wire)
    print()
    for line in lines:
        print(line)
    print(f"load average {load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end ({cpus} CPUs)")
    report = {
        "benchmark": "jobs",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {k: v for k, v in asdict(config).items() if k not in ("pg_admin_url", "redis_url")},
        "machine": {
            "cpus": cpus,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": [round(load_before[0], 2), round(load_after[0], 2)],
        },
        "notes": notes,
        "results": [asdict(row) for row in rows],
        "wire": asdict(wire) if wire else None,
        "targets": {
            "redis_vs_taskiq_e2e": TARGET_REDIS_VS_TASKIQ,
            "redis_vs_taskiq_e2e_goal": GOAL_REDIS_VS_TASKIQ,
            "sqlite_drain_per_s": TARGET_SQLITE_DRAIN,
            "p99_ms": TARGET_P99_MS,
            "wire_p99_ms": TARGET_WIRE_P99_MS,
            **targets,
        },
        "failures": failures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {RESULTS.relative_to(ROOT)}")
    if failures:
        print("FAILED: some cases could not be measured:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: servers, databases and keys cleaned up


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(child_main(sys.argv[2]))
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        sys.exit(main())
    except auth.BenchError as exc:
        print(f"bench jobs: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench jobs: interrupted", file=sys.stderr)
        sys.exit(130)
