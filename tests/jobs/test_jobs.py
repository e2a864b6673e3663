"""The job lifecycle over HTTP: submit, states, cancel in every state, timeouts, retries, idempotency,
`Prefer: wait`, caps, fairness and pause. Engines are gated by the test so every state is reached on purpose."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from artboard.engines.base import EngineError, EngineResult, JobCanceled, JobContext, OutputImage
from artboard.engines.sketch_engine import SketchEngine
from artboard.library.service import Library
from tests import photos
from tests.auth.test_admin import make_admin
from tests.support import (
    Account,
    LiveServer,
    assert_envelope,
    live_server,
    postgres_database,
    register_and_login,
    run_sql,
)

SETTINGS = {
    "task_timeout_s": 3,
    "job_max_attempts": 2,
    "max_running_per_user": 2,
    "max_queued_per_user": 6,
    "max_concurrent_tasks": 4,
    "job_lease_s": 1.5,
}


@dataclass
class Gate:
    """What the stand-in engine does: wait until released (or told to stop), then succeed or fail as set."""

    release: threading.Event = field(default_factory=threading.Event)
    outcome: str = "ok"  # ok | transient | permanent | hang | not_an_image | deaf (never checks should_stop)
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    async def run(self, context: JobContext) -> EngineResult:
        self.started.append(context.job_id)
        context.progress(0.5, "Halfway")
        while not self.release.is_set() or self.outcome == "hang":
            if context.should_stop() and self.outcome != "deaf":
                raise JobCanceled("stopped at a checkpoint")
            await asyncio.sleep(0.02)
        if self.outcome == "transient":
            raise EngineError("provider_busy", "The provider is busy.", transient=True)
        if self.outcome == "permanent":
            raise EngineError("bad_input", "The engine refused the input.")
        self.finished.append(context.job_id)
        output = b"<html>not an image</html>" if self.outcome == "not_an_image" else photos.flower()
        return EngineResult([OutputImage(output, "gated")], data={"gated": True})


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def jobs_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp(f"jobs-{request.param}")
    if request.param == "sqlite":
        with live_server(data_dir, **SETTINGS) as running:
            yield running
    else:
        with postgres_database() as url, live_server(data_dir, database_url=url, **SETTINGS) as running:
            yield running


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate()

    async def run(_engine: SketchEngine, context: JobContext) -> EngineResult:
        return await gate.run(context)

    monkeypatch.setattr(SketchEngine, "run", run)
    yield gate
    gate.release.set()


@pytest.fixture
def http(jobs_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=jobs_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def user(http: httpx.Client) -> Account:
    return register_and_login(http)


@pytest.fixture(scope="module")
def boss(jobs_server: LiveServer) -> Account:
    with httpx.Client(base_url=jobs_server.url, timeout=30) as client:
        return make_admin(jobs_server, client)


def source(http: httpx.Client, account: Account) -> str:
    response = http.post("/api/images", files={"file": ("p.jpg", photos.flower())}, headers=account.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def submit(http: httpx.Client, account: Account, image_id: str, **extra: Any) -> httpx.Response:
    headers = {**account.headers, **extra.pop("headers", {})}
    body = {"model": "sketch:pencil", "image_id": image_id, **extra}
    return http.post("/api/jobs", json=body, headers=headers)


def until(http: httpx.Client, account: Account, job_id: str, *statuses: str, within_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while True:
        job: dict[str, Any] = http.get(f"/api/jobs/{job_id}", headers=account.headers).json()
        if job["status"] in statuses or time.monotonic() > deadline:
            assert job["status"] in statuses, job
            return job
        time.sleep(0.05)


def test_a_job_goes_queued_running_succeeded_and_its_output_joins_the_gallery(
    http: httpx.Client, user: Account, gate: Gate
) -> None:
    image_id = source(http, user)
    queued = submit(http, user, image_id, parameters={"method": "advanced"})
    assert queued.status_code == 202
    job = queued.json()
    assert job["status"] == "queued" and job["queue_position"] >= 1 and job["model"] == "sketch:pencil"
    assert job["input"] == {"parameters": {"method": "advanced", "strength": 1.0}, "image_id": image_id}
    running = until(http, user, job["id"], "running")
    assert running["queue_position"] is None and running["attempts"] == 1
    gate.release.set()
    done = until(http, user, job["id"], "succeeded")
    assert done["progress"] == 1.0 and done["error"] is None and done["finished"]
    (output_id,) = done["result"]["images"]
    image = http.get(f"/api/images/{output_id}", headers=user.headers).json()
    assert image["lineage"] == {
        "job_id": job["id"],
        "source_image_id": image_id,
        "engine": "sketch",
        "model": "sketch:pencil",
        "parameters": {"method": "advanced", "strength": 1.0},
        "cost": 0.0,
    }
    listed = http.get("/api/jobs", params={"status": "succeeded"}, headers=user.headers).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"model": "sketch:crayon"}, 400, "sketch:pencil"),
        ({"parameters": {"method": "fancy"}}, 400, "method"),
        ({"parameters": {"strength": 2}}, 400, "strength"),
        ({"parameters": {"strength": "x"}}, 400, "strength"),
        ({"parameters": {"colour": "red"}}, 400, "colour"),
        ({"image_id": None}, 400, "image_id"),
        ({"image_id": "aaaaaaaaaaaaaaa"}, 404, "image"),
        ({"priority": 99}, 422, "priority"),
    ],
)
def test_a_submit_is_checked_against_the_models_schema(
    http: httpx.Client, user: Account, body: dict[str, Any], status: int, field: str
) -> None:
    image_id = source(http, user)
    response = http.post(
        "/api/jobs", json={"model": "sketch:pencil", "image_id": image_id, **body}, headers=user.headers
    )
    error = response.json()
    assert response.status_code == status, error
    assert field in error["message"]


def test_another_users_job_is_not_found_anywhere(http: httpx.Client, user: Account, gate: Gate) -> None:
    job = submit(http, user, source(http, user)).json()
    stranger = register_and_login(http)
    for method, path in (
        ("GET", f"/api/jobs/{job['id']}"),
        ("POST", f"/api/jobs/{job['id']}/cancel"),
        ("POST", f"/api/jobs/{job['id']}/retry"),
    ):
        assert_envelope(http.request(method, path, headers=stranger.headers), 404, "not_found")
    assert http.get("/api/jobs", headers=stranger.headers).json()["total"] == 0
    # Nor can a job start from someone else's image.
    assert submit(http, stranger, job["input"]["image_id"]).status_code == 404


def test_cancel_works_in_every_state(http: httpx.Client, user: Account, gate: Gate) -> None:
    image_id = source(http, user)
    first, second, third = (submit(http, user, image_id).json() for _ in range(3))
    until(http, user, first["id"], "running")
    until(http, user, second["id"], "running")
    # The third waits (two running is this user's cap): canceled at once.
    queued = http.post(f"/api/jobs/{third['id']}/cancel", headers=user.headers).json()
    assert queued["status"] == "canceled" and queued["finished"]
    # A running one stops at its next checkpoint.
    http.post(f"/api/jobs/{first['id']}/cancel", headers=user.headers).raise_for_status()
    canceled = until(http, user, first["id"], "canceled")
    assert canceled["result"] is None
    # A finished one stays as it is.
    gate.release.set()
    done = until(http, user, second["id"], "succeeded")
    assert http.post(f"/api/jobs/{second['id']}/cancel", headers=user.headers).json()["status"] == "succeeded"
    assert done["result"]["images"]


def test_a_job_canceled_after_its_last_checkpoint_keeps_nothing(http: httpx.Client, user: Account, gate: Gate) -> None:
    gate.outcome = "deaf"
    image_id = source(http, user)
    job = submit(http, user, image_id).json()
    until(http, user, job["id"], "running")
    asked = http.post(f"/api/jobs/{job['id']}/cancel", headers=user.headers).json()
    assert asked["status"] == "running" and asked["message"] == "Canceling…"
    gate.release.set()  # the engine ends with its images, never having looked at the request to stop
    canceled = until(http, user, job["id"], "canceled", "succeeded")
    assert (canceled["status"], canceled["result"], canceled["message"]) == ("canceled", None, "Canceled.")
    gallery = http.get("/api/images", headers=user.headers).json()["items"]
    assert [image["id"] for image in gallery] == [image_id], "the free result of a canceled job is not kept"


def test_a_job_that_runs_too_long_times_out(http: httpx.Client, user: Account, gate: Gate) -> None:
    gate.outcome = "hang"
    job = submit(http, user, source(http, user)).json()
    timed_out = until(http, user, job["id"], "timed_out")
    assert timed_out["error"]["code"] == "timeout" and "3 s" in timed_out["error"]["message"]


@pytest.mark.parametrize(
    ("outcome", "status", "attempts", "code"),
    [
        ("transient", "failed", 2, "provider_busy"),
        ("permanent", "failed", 1, "bad_input"),
        ("not_an_image", "failed", 1, "invalid_output"),
    ],
)
def test_only_transient_errors_are_retried_up_to_the_attempt_limit(
    http: httpx.Client, user: Account, gate: Gate, outcome: str, status: str, attempts: int, code: str
) -> None:
    gate.outcome = outcome
    gate.release.set()
    job = submit(http, user, source(http, user)).json()
    failed = until(http, user, job["id"], status)
    assert failed["attempts"] == attempts and failed["error"]["code"] == code


@pytest.mark.parametrize(
    ("failing_stores", "status", "code"),
    [(1, "succeeded", None), (2, "failed", "internal_error")],
    ids=["storage fails once", "storage fails on every attempt"],
)
def test_a_result_that_could_not_be_stored_is_tried_again_up_to_the_attempt_limit(
    http: httpx.Client,
    user: Account,
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
    failing_stores: int,
    status: str,
    code: str | None,
) -> None:
    store = Library.store
    failures = iter(range(failing_stores))

    async def failing(library: Library, owner_id: str, images: list[bytes]) -> list[Any]:
        if next(failures, None) is not None:
            raise OSError("No space left on device")
        return await store(library, owner_id, images)

    monkeypatch.setattr(Library, "store", failing)
    gate.release.set()
    job = submit(http, user, source(http, user)).json()
    ended = until(http, user, job["id"], status)
    assert ended["attempts"] == 2
    assert (ended["error"] or {}).get("code") == code


def test_retry_makes_a_new_job_of_a_failed_one_only(http: httpx.Client, user: Account, gate: Gate) -> None:
    gate.outcome = "permanent"
    gate.release.set()
    failed = until(http, user, submit(http, user, source(http, user)).json()["id"], "failed")
    gate.outcome = "ok"
    retried = http.post(f"/api/jobs/{failed['id']}/retry", headers=user.headers)
    assert retried.status_code == 202
    again = until(http, user, retried.json()["id"], "succeeded")
    assert again["retry_of"] == failed["id"] and again["input"] == failed["input"]
    assert_envelope(http.post(f"/api/jobs/{again['id']}/retry", headers=user.headers), 409, "conflict")


def test_an_idempotency_key_gives_the_same_job_and_refuses_another_body(
    http: httpx.Client, user: Account, gate: Gate
) -> None:
    image_id = source(http, user)
    key = {"Idempotency-Key": "order-42"}
    first = submit(http, user, image_id, headers=key).json()
    again = submit(http, user, image_id, headers=key).json()
    assert again["id"] == first["id"]
    other = submit(http, user, image_id, headers=key, parameters={"method": "artistic"})
    assert_envelope(other, 409, "conflict")
    # Keys belong to their user: another user's same key is a job of their own.
    stranger = register_and_login(http)
    assert submit(http, stranger, source(http, stranger), headers=key).json()["id"] != first["id"]


def test_prefer_wait_answers_with_the_finished_job_or_202_in_time(
    http: httpx.Client, user: Account, gate: Gate
) -> None:
    image_id = source(http, user)
    pending = submit(http, user, image_id, headers={"Prefer": "wait=1"})
    assert pending.status_code == 202 and pending.json()["status"] in ("queued", "running")
    gate.release.set()
    done = submit(http, user, image_id, headers={"Prefer": "wait=20"})
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    assert done.headers["preference-applied"] == "wait=20"


def test_the_queued_cap_refuses_more_with_429(http: httpx.Client, user: Account, boss: Account, gate: Gate) -> None:
    image_id = source(http, user)
    http.post("/api/admin/queue/pause", headers=boss.headers).raise_for_status()
    try:
        waiting = [submit(http, user, image_id) for _ in range(SETTINGS["max_queued_per_user"])]
        assert all(response.status_code == 202 for response in waiting)
        refused = submit(http, user, image_id)
        body = assert_envelope(refused, 429, "rate_limit_error")
        assert "6 jobs waiting" in body["message"] and refused.headers["retry-after"]
        for response in waiting:
            http.post(f"/api/jobs/{response.json()['id']}/cancel", headers=user.headers).raise_for_status()
    finally:
        http.post("/api/admin/queue/resume", headers=boss.headers).raise_for_status()


def test_the_queued_cap_holds_against_simultaneous_submits(
    jobs_server: LiveServer, http: httpx.Client, user: Account, boss: Account, gate: Gate
) -> None:
    image_id = source(http, user)
    http.post("/api/admin/queue/pause", headers=boss.headers).raise_for_status()

    def one_submit(_: int) -> httpx.Response:
        with httpx.Client(base_url=jobs_server.url, timeout=30) as client:
            return submit(client, user, image_id)

    try:
        with ThreadPoolExecutor(10) as pool:
            replies = list(pool.map(one_submit, range(10)))
        cap = SETTINGS["max_queued_per_user"]
        assert sorted(reply.status_code for reply in replies) == [202] * cap + [429] * (10 - cap)
        for accepted in (reply for reply in replies if reply.status_code == 202):
            http.post(f"/api/jobs/{accepted.json()['id']}/cancel", headers=user.headers).raise_for_status()
    finally:
        http.post("/api/admin/queue/resume", headers=boss.headers).raise_for_status()


def test_one_users_backlog_does_not_hold_up_another_users_job(http: httpx.Client, boss: Account, gate: Gate) -> None:
    """A fills the queue first; B's one job still starts among the first claims, and A never runs more
    than the per-user cap at once."""
    a, b = register_and_login(http), register_and_login(http)
    a_image, b_image = source(http, a), source(http, b)
    http.post("/api/admin/queue/pause", headers=boss.headers).raise_for_status()
    a_jobs = [submit(http, a, a_image).json()["id"] for _ in range(SETTINGS["max_queued_per_user"])]
    b_job = submit(http, b, b_image).json()
    assert b_job["queue_position"] <= 2  # one of A's, then B's
    http.post("/api/admin/queue/resume", headers=boss.headers).raise_for_status()
    until(http, b, b_job["id"], "running")
    theirs = [job_id for job_id in gate.started if job_id in {*a_jobs, b_job["id"]}]
    assert b_job["id"] in theirs[:3]
    running = http.get("/api/jobs", params={"status": "running"}, headers=a.headers).json()["total"]
    assert running == SETTINGS["max_running_per_user"]
    gate.release.set()
    for job_id in a_jobs:
        until(http, a, job_id, "succeeded")


def worker_free(http: httpx.Client, boss: Account, within_s: float = 20) -> None:
    """Wait until no job of earlier tests is queued (one waiting would be taken first) and the worker has a
    free slot."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        counts = http.get("/api/admin/queue", headers=boss.headers).json()["counts"]
        if counts["queued"] == 0 and counts["running"] < SETTINGS["max_concurrent_tasks"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"the worker stayed busy: {counts}")


@pytest.mark.parametrize(
    ("situation", "right_after"), [("idle", "running"), ("paused", "queued"), ("at cap", "queued")]
)
def test_a_job_the_fair_order_takes_next_starts_in_its_submits_commit(
    http: httpx.Client, user: Account, boss: Account, gate: Gate, situation: str, right_after: str
) -> None:
    """With a free slot here and nothing else waiting, the submit itself starts the job: it is running by the
    time the reply (which shows it as submitted) arrives. Paused, or its owner at the running cap, it waits."""
    image_id = source(http, user)
    if situation == "at cap":
        for _ in range(SETTINGS["max_running_per_user"]):
            until(http, user, submit(http, user, image_id).json()["id"], "running")
    worker_free(http, boss)
    if situation == "paused":
        http.post("/api/admin/queue/pause", headers=boss.headers).raise_for_status()
    try:
        reply = submit(http, user, image_id).json()
        assert reply["status"] == "queued" and reply["queue_position"] == 1
        assert http.get(f"/api/jobs/{reply['id']}", headers=user.headers).json()["status"] == right_after
    finally:
        http.post("/api/admin/queue/resume", headers=boss.headers).raise_for_status()
        gate.release.set()
    until(http, user, reply["id"], "succeeded")


def test_pause_stops_claims_and_resume_starts_them_again(
    http: httpx.Client, user: Account, boss: Account, gate: Gate
) -> None:
    gate.release.set()
    paused = http.post("/api/admin/queue/pause", headers=boss.headers).json()
    assert paused["paused"] is True
    job = submit(http, user, source(http, user)).json()
    time.sleep(1.5)  # several claim rounds pass without it
    assert http.get(f"/api/jobs/{job['id']}", headers=user.headers).json()["status"] == "queued"
    state = http.post("/api/admin/queue/resume", headers=boss.headers).json()
    assert state["paused"] is False and state["live_workers"] >= 1
    until(http, user, job["id"], "succeeded")
    queue = http.get("/api/admin/queue", headers=boss.headers).json()
    assert queue["counts"]["succeeded"] >= 1 and set(queue) == {
        "counts",
        "oldest_queued_age_s",
        "live_workers",
        "paused",
    }
    everyone = http.get("/api/admin/jobs", headers=boss.headers).json()
    assert everyone["total"] >= 1
    assert_envelope(http.get("/api/admin/queue", headers=user.headers), 403, "authorization_error")


def test_health_reports_live_workers_and_queue_depth(http: httpx.Client) -> None:
    jobs = http.get("/health").json()["jobs"]
    assert jobs["live_workers"] >= 1 and jobs["queued"] >= 0


@pytest.mark.parametrize(
    ("attempts_so_far", "ends", "attempts"),
    [(1, "succeeded", 2), (SETTINGS["job_max_attempts"], "failed", SETTINGS["job_max_attempts"])],
)
def test_a_job_whose_worker_died_is_taken_again_once_its_lease_runs_out(
    jobs_server: LiveServer,
    http: httpx.Client,
    user: Account,
    boss: Account,
    gate: Gate,
    attempts_so_far: int,
    ends: str,
    attempts: int,
) -> None:
    gate.release.set()
    http.post("/api/admin/queue/pause", headers=boss.headers).raise_for_status()
    job = submit(http, user, source(http, user)).json()
    # As a worker that claimed it and was then killed leaves it: running, its lease run out.
    run_sql(
        jobs_server,
        "UPDATE jobs SET status = 'running', worker_id = 'killed', attempts = :attempts, "
        "lease_until = :past WHERE id = :id",
        attempts=attempts_so_far,
        past=datetime(2000, 1, 1),
        id=job["id"],
    )
    http.post("/api/admin/queue/resume", headers=boss.headers).raise_for_status()
    finished = until(http, user, job["id"], ends)
    assert finished["attempts"] == attempts
    if ends == "failed":
        assert finished["error"]["code"] == "worker_lost"


def test_a_job_delivered_twice_produces_one_result(
    jobs_server: LiveServer, http: httpx.Client, user: Account, gate: Gate
) -> None:
    """A slow worker whose job was taken over finishes second: its result is dropped, not stored twice."""
    job = submit(http, user, source(http, user)).json()
    until(http, user, job["id"], "running")
    # Another worker took the job over (as after a lost lease) while this one still runs it.
    run_sql(jobs_server, "UPDATE jobs SET worker_id = 'other' WHERE id = :id", id=job["id"])
    gate.release.set()
    deadline = time.monotonic() + 10
    while job["id"] not in gate.finished and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # its finishing transaction runs and finds the job no longer its own
    assert run_sql(jobs_server, "SELECT count(*) FROM images WHERE job_id = :id", id=job["id"]) == [(0,)]
    # The other worker never renews its lease either: the job is taken again and finishes once.
    run_sql(jobs_server, "UPDATE jobs SET lease_until = :past WHERE id = :id", past=datetime(2000, 1, 1), id=job["id"])
    until(http, user, job["id"], "succeeded")
    assert run_sql(jobs_server, "SELECT count(*) FROM images WHERE job_id = :id", id=job["id"]) == [(1,)]
