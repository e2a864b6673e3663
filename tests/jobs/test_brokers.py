"""Every broker against the real thing: the embedded one on SQLite and PostgreSQL, Redis streams, and an Azure
Storage queue on Azurite. Brokers only wake workers (the jobs table is the queue), so each test checks both
that the job gets done and that the wake-up really went through the broker and was cleared from it.
Scale-out runs Artboard as an operator would: separate `serve` and `worker` processes sharing PostgreSQL,
Redis and S3."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.storage.queue import QueueClient, TextBase64DecodePolicy
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from artboard.config import load_settings
from artboard.jobs.broker import Broker, build_broker
from artboard.jobs.broker_azure import AzureQueueBroker, queue_client
from artboard.jobs.broker_redis import GROUP
from artboard.kit.pubsub import QUEUE_LIMIT, build_pubsub
from tests import photos
from tests.jobs.deployments import (
    ARTBOARD,
    azurite,
    deployment,
    eventually,
    finished,
    redis_stream,
    submit_sketches,
    upload,
)
from tests.support import BUCKET, REDIS_URL, clean_env, live_server, postgres_database, register_and_login


@pytest.fixture(scope="module")
def azure_connection() -> Iterator[str]:
    with azurite() as connection_string:
        yield connection_string


@dataclass
class BrokerUnderTest:
    """A broker's settings, on a stream or queue of this test's own, and how to look inside it."""

    settings: dict[str, Any]
    # The wake-ups waiting in the broker, as the job ids they name (None: the broker keeps nothing to look at).
    waiting: Callable[[], list[str] | None] = lambda: None
    # Wake-ups delivered to a worker and not yet cleared (acknowledged, deleted).
    unfinished: Callable[[], int] = lambda: 0


def entry_order(entry_id: bytes) -> tuple[int, ...]:
    return tuple(int(part) for part in entry_id.split(b"-"))


@contextmanager
def redis_broker() -> Iterator[BrokerUnderTest]:
    with redis_stream() as stream, Redis.from_url(REDIS_URL) as redis:
        yield BrokerUnderTest(
            {"broker": "redis", "redis_url": REDIS_URL, "redis_stream": stream},
            lambda: redis_waiting(redis, stream),
            lambda: int(redis.xpending(stream, GROUP)["pending"]),
        )


def redis_waiting(redis: Redis, stream: str) -> list[str]:
    """Entries the group has not handed out yet (all of them before the first worker made the group)."""
    groups = redis.xinfo_groups(stream) if redis.exists(stream) else []
    last = entry_order(groups[0]["last-delivered-id"]) if groups else (0, 0)
    entries: list[tuple[bytes, dict[bytes, bytes]]] = redis.xrange(stream)  # type: ignore[assignment]
    return [fields[b"job"].decode() for entry_id, fields in entries if entry_order(entry_id) > last]


@contextmanager
def azure_broker(connection_string: str) -> Iterator[BrokerUnderTest]:
    name = f"artboard-test-{uuid.uuid4().hex[:12]}"
    queue = QueueClient.from_connection_string(connection_string, name, message_decode_policy=TextBase64DecodePolicy())

    def waiting() -> list[str]:
        return [str(message.content) for message in queue.peek_messages(max_messages=32)]

    def unfinished() -> int:
        # Visible and hidden (received, not yet deleted) messages alike.
        return int(queue.get_queue_properties().approximate_message_count or 0)

    settings = {"broker": "azure", "azure_storage_connection_string": connection_string, "azure_queue_name": name}
    try:
        yield BrokerUnderTest(settings, waiting, unfinished)
    finally:
        queue.delete_queue()
        queue.close()


def broker_under_test(kind: str, request: pytest.FixtureRequest) -> AbstractContextManager[BrokerUnderTest]:
    if kind == "redis":
        return redis_broker()
    if kind == "azure":
        return azure_broker(request.getfixturevalue("azure_connection"))
    return nullcontext(BrokerUnderTest({"broker": "embedded"}))


@contextmanager
def database(kind: str) -> Iterator[dict[str, Any]]:
    if kind == "postgres":
        with postgres_database() as url:
            yield {"database_url": url}
    else:
        yield {}


@pytest.mark.parametrize(
    ("broker", "database_kind"),
    [
        ("embedded", "sqlite"),
        ("embedded", "postgres"),
        ("redis", "postgres"),
        ("redis", "sqlite"),
        ("azure", "sqlite"),
    ],
)
def test_a_sketch_submitted_over_http_waits_in_the_broker_until_a_worker_does_it(
    broker: str, database_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with broker_under_test(broker, request) as under_test, database(database_kind) as db_settings:
        settings = {**under_test.settings, **db_settings}
        # The front serves HTTP only; the worker is another instance on the same data dir and database.
        with live_server(tmp_path, run_worker=False, **settings) as front, httpx.Client(base_url=front.url) as http:
            account = register_and_login(http)
            image_id = upload(http, account.headers, photos.flower())
            (job_id,) = submit_sketches(http, account.headers, image_id, 1)
            assert under_test.waiting() in (None, [job_id])

            with live_server(tmp_path, **settings):
                job = finished(http, account.headers, job_id)
                assert job["status"] == "succeeded", job
                eventually(lambda: under_test.unfinished() == 0, "the wake-up to be cleared from the broker")
            assert under_test.waiting() in (None, [])

            (output_id,) = job["result"]["images"]
            image = http.get(f"/api/images/{output_id}", headers=account.headers).json()
            assert image["lineage"]["job_id"] == job_id and image["lineage"]["source_image_id"] == image_id


# ---- the broker alone, as a worker uses it -----------------------------------------------------------------


@dataclass
class Connected:
    broker: Broker
    hang_up: Callable[[], Awaitable[None]]  # drop the connection with no goodbye, as a killed process does


def connect(settings: dict[str, Any], consumer: str) -> Connected:
    """A broker built as ``open_resources`` builds it, over a connection of its own."""
    loaded = load_settings(**settings)
    if loaded.broker == "azure":
        assert loaded.azure_storage_connection_string
        client = queue_client(loaded.azure_storage_connection_string, loaded.azure_queue_name)
        return Connected(AzureQueueBroker(client, visibility_s=loaded.job_lease_s), client.close)
    redis = AsyncRedis.from_url(loaded.redis_url) if loaded.redis_url else None
    broker = build_broker(loaded, build_pubsub(redis), redis, consumer)
    return Connected(broker, redis.aclose if redis else broker.close)


@pytest.mark.parametrize("kind", ["embedded", "redis", "azure"])
def test_an_announcement_wakes_a_waiting_worker_and_silence_lets_it_look_anyway(
    kind: str, request: pytest.FixtureRequest
) -> None:
    async def scenario(under_test: BrokerUnderTest) -> None:
        worker = connect(under_test.settings, "worker-1")
        try:
            await asyncio.wait_for(worker.broker.wait(0.2), 10)  # nothing announced: back after the timeout
            await worker.broker.announce(["job-1"])
            await asyncio.wait_for(worker.broker.wait(60), 10)  # announced: back long before its 60 s
            await worker.broker.announce([])  # "look again" (resume) names no job and still wakes
            await asyncio.wait_for(worker.broker.wait(60), 10)
            await asyncio.wait_for(worker.broker.wait(0.2), 10)  # clears what the last wait received
        finally:
            await worker.broker.close()
            await worker.hang_up()

    with broker_under_test(kind, request) as under_test:
        asyncio.run(scenario(under_test))
        assert under_test.unfinished() == 0


def test_an_embedded_worker_that_missed_announcements_looks_at_the_queue_at_once() -> None:
    """More announcements than a subscription holds arrive while the worker is not waiting (busy, or between
    runs): they are dropped, so its next wait returns at once instead of after the timeout."""

    async def scenario() -> None:
        worker = connect({"broker": "embedded"}, "worker-1")
        try:
            await asyncio.wait_for(worker.broker.wait(0.05), 10)  # subscribed
            for _ in range(QUEUE_LIMIT + 1):
                await worker.broker.announce(["job-1"])
            await asyncio.wait_for(worker.broker.wait(60), 5)
            await asyncio.wait_for(worker.broker.wait(0.05), 10)  # subscribed again: quiet waits time out
        finally:
            await worker.broker.close()
            await worker.hang_up()

    asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["redis", "azure"])
def test_a_wake_up_left_by_a_worker_that_died_reaches_another_worker(kind: str, request: pytest.FixtureRequest) -> None:
    async def scenario(under_test: BrokerUnderTest) -> None:
        # A 1 s lease: Redis takes over entries idle that long; Azure hides a received message that long.
        settings = {**under_test.settings, "job_lease_s": 1}
        dying, living = connect(settings, "worker-dying"), connect(settings, "worker-living")
        try:
            await asyncio.wait_for(living.broker.wait(0.1), 10)
            await dying.broker.announce(["job-1"])
            await asyncio.wait_for(dying.broker.wait(60), 10)
            await dying.hang_up()  # received, and the worker dies without clearing it
            assert under_test.unfinished() == 1
            deadline = asyncio.get_running_loop().time() + 20
            while under_test.unfinished():  # as a worker does: wait, look at the queue, wait again
                assert asyncio.get_running_loop().time() < deadline, "the wake-up was never taken over"
                await living.broker.wait(0.3)
        finally:
            await living.broker.close()
            await living.hang_up()

    with broker_under_test(kind, request) as under_test:
        asyncio.run(scenario(under_test))
        assert under_test.waiting() == []


@pytest.mark.parametrize(
    ("broker", "needs"),
    [("redis", "REDIS_URL"), ("azure", "AZURE_STORAGE_CONNECTION_STRING")],
)
@pytest.mark.parametrize("command", [["serve"], ["worker"]])
def test_a_broker_without_its_connection_stops_the_process_with_one_line(
    broker: str, needs: str, command: list[str], tmp_path: Path
) -> None:
    env = {**clean_env(), "ARTBOARD_BROKER": broker}
    result = subprocess.run(
        [ARTBOARD, *command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and needs in result.stderr and f"ARTBOARD_BROKER={broker}" in result.stderr


def test_worker_concurrency_below_one_is_refused_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [ARTBOARD, "worker", "--concurrency", "0"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "MAX_CONCURRENT_TASKS" in result.stderr


# ---- scale-out ----------------------------------------------------------------------------------------------


def follow_until_done(events: httpx.Response, job_ids: set[str], within_s: float = 60) -> list[dict[str, Any]]:
    """Read Server-Sent Events until every job in ``job_ids`` has succeeded; the events read, in order."""
    seen: list[dict[str, Any]] = []
    done: set[str] = set()
    deadline = time.monotonic() + within_s
    for line in events.iter_lines():
        assert time.monotonic() < deadline, f"the stream reported {len(done)} of {len(job_ids)} jobs done"
        if line.startswith("data: "):
            event = json.loads(line.removeprefix("data: "))
            seen.append(event)
            if event["job"]["status"] == "succeeded":
                done.add(event["job"]["id"])
            if done == job_ids:
                return seen
    raise AssertionError("the event stream ended early")


def test_two_servers_without_workers_and_two_workers_share_postgres_redis_and_s3(
    tmp_path: Path, s3_endpoint: str
) -> None:
    with postgres_database() as database_url, redis_stream() as stream:
        shared = {
            "ARTBOARD_DATABASE_URL": database_url,
            "ARTBOARD_REDIS_URL": REDIS_URL,
            "ARTBOARD_BROKER": "redis",
            "ARTBOARD_REDIS_STREAM": stream,
            "ARTBOARD_S3_BUCKET": BUCKET,
            "ARTBOARD_S3_ENDPOINT_URL": s3_endpoint,
            "ARTBOARD_S3_ACCESS_KEY_ID": "test",
            "ARTBOARD_S3_SECRET_ACCESS_KEY": "test",
            "ARTBOARD_SECRET_KEY": "scale-out-" + uuid.uuid4().hex,  # one signing key for every instance
        }
        with deployment(tmp_path, **shared) as artboard:
            url_a = artboard.serve("server-a", "--no-worker")
            url_b = artboard.serve("server-b", "--no-worker")
            workers = [artboard.worker("worker-1", "--concurrency", "2"), artboard.worker("worker-2")]
            artboard.wait_for_workers("worker-1", "worker-2")
            with httpx.Client(base_url=url_a, timeout=30) as a, httpx.Client(base_url=url_b, timeout=30) as b:
                account = register_and_login(a)
                image_id = upload(a, account.headers, photos.flower())
                with b.stream("GET", "/api/jobs/events", params={"since": 0}, headers=account.headers) as events:
                    assert events.status_code == 200
                    job_ids = submit_sketches(a, account.headers, image_id, 4)
                    # B hears of jobs it never saw: queued on A, run by the workers, published over Redis.
                    seen = follow_until_done(events, set(job_ids))
                assert [event["seq"] for event in seen] == sorted({event["seq"] for event in seen})
                jobs = [b.get(f"/api/jobs/{job_id}", headers=account.headers).json() for job_id in job_ids]
                assert {job["status"] for job in jobs} == {"succeeded"}
                for job in jobs:
                    (output_id,) = job["result"]["images"]
                    original = b.get(f"/api/images/{output_id}/file", headers=account.headers, follow_redirects=True)
                    assert original.status_code == 200 and photos.decode(original.content).format == "JPEG"
            assert {pid for (pid,) in artboard.sql("SELECT pid FROM workers")} == {w.pid for w in workers}
            assert artboard.sql("SELECT COUNT(*) FROM images WHERE job_id IS NOT NULL") == [(4,)]


def test_serve_with_several_processes_runs_a_worker_in_each_and_every_job_once(tmp_path: Path) -> None:
    with deployment(tmp_path, ARTBOARD_REDIS_URL=REDIS_URL) as artboard:
        url = artboard.serve("server", "--workers", "2")
        eventually(lambda: len(artboard.worker_ids()) == 2, "a worker in each server process")
        with httpx.Client(base_url=url, timeout=30) as http:
            account = register_and_login(http)
            image_id = upload(http, account.headers, photos.flower())
            job_ids = submit_sketches(http, account.headers, image_id, 6)
            assert {finished(http, account.headers, job_id)["status"] for job_id in job_ids} == {"succeeded"}
            # Health is read at most once a second and a busy worker's heartbeat may lag: both show up.
            eventually(lambda: http.get("/health").json()["jobs"]["live_workers"] == 2, "two live workers in /health")
        outputs = dict(artboard.sql("SELECT job_id, COUNT(*) FROM images WHERE job_id IS NOT NULL GROUP BY job_id"))
        assert outputs == dict.fromkeys(job_ids, 1)
