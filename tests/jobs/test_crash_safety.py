"""Crash safety: a server or a worker stopped in the middle of jobs, by `kill -9` or politely. Every job still
finishes, once: one output image each, however many times it was started.

Jobs are made long enough to be caught running by their size (a 12 MP photograph each, two at a time), not
by any hook in the service: the test stops the process as soon as a job shows `running`, then reads from
the database which jobs it interrupted.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.jobs.deployments import (
    Deployment,
    deployment,
    eventually,
    finished,
    redis_stream,
    submit_sketches,
    twelve_megapixel_photo,
    upload,
    worker_pid,
)
from tests.support import REDIS_URL, Account, postgres_database, register_and_login

JOBS = 6


def start_jobs(http: httpx.Client) -> tuple[Account, list[str]]:
    account = register_and_login(http)
    image_id = upload(http, account.headers, twelve_megapixel_photo())
    return account, submit_sketches(http, account.headers, image_id, JOBS)


def some_job_running(http: httpx.Client, account: Account) -> bool:
    page = http.get("/api/jobs", params={"status": "running"}, headers=account.headers).json()
    return bool(page["items"])


def running_jobs(artboard: Deployment) -> dict[str, str]:
    """The jobs the database has as running, with the worker that holds each."""
    return dict(artboard.sql("SELECT id, worker_id FROM jobs WHERE status = 'running'"))


def assert_each_finished_once(http: httpx.Client, account: Account, artboard: Deployment, job_ids: list[str]) -> None:
    jobs = [finished(http, account.headers, job_id) for job_id in job_ids]
    assert [job["status"] for job in jobs] == ["succeeded"] * JOBS, jobs
    outputs = dict(artboard.sql("SELECT job_id, COUNT(*) FROM images WHERE job_id IS NOT NULL GROUP BY job_id"))
    assert outputs == dict.fromkeys(job_ids, 1)
    for job in jobs:
        (image_id,) = job["result"]["images"]
        assert artboard.sql("SELECT job_id FROM images WHERE id = :id", id=image_id) == [(job["id"],)]


def attempts(http: httpx.Client, account: Account, job_ids: set[str]) -> set[int]:
    return {int(http.get(f"/api/jobs/{job_id}", headers=account.headers).json()["attempts"]) for job_id in job_ids}


def test_a_server_killed_mid_job_finishes_it_once_when_started_again(tmp_path: Path) -> None:
    # A short lease, so the restarted server takes the interrupted jobs back after 2 s rather than 30.
    settings = {"ARTBOARD_JOB_LEASE_S": "2", "ARTBOARD_MAX_CONCURRENT_TASKS": "2"}
    with deployment(tmp_path, **settings) as artboard:
        with httpx.Client(base_url=artboard.serve("first"), timeout=30) as http:
            account, job_ids = start_jobs(http)
            eventually(lambda: some_job_running(http, account), "a job to start")
            artboard.kill("first")
        interrupted = running_jobs(artboard)
        assert interrupted, "the server was killed between jobs"

        with httpx.Client(base_url=artboard.serve("second"), timeout=30) as http:
            assert_each_finished_once(http, account, artboard, job_ids)
            assert attempts(http, account, set(interrupted)) == {2}


@pytest.mark.parametrize(
    ("stop", "lease_s"),
    [
        # Nothing runs in a killed worker: its jobs wait out their lease, then the other worker takes them.
        pytest.param(signal.SIGKILL, "2", id="kill -9"),
        # A stopped worker puts its jobs back itself: long before this lease could run out.
        pytest.param(signal.SIGTERM, "300", id="SIGTERM"),
    ],
)
def test_the_worker_running_a_job_stops_and_the_other_worker_finishes_it_once(
    tmp_path: Path, stop: signal.Signals, lease_s: str
) -> None:
    with postgres_database() as database_url, redis_stream() as stream:
        settings = {
            "ARTBOARD_DATABASE_URL": database_url,
            "ARTBOARD_REDIS_URL": REDIS_URL,
            "ARTBOARD_BROKER": "redis",
            "ARTBOARD_REDIS_STREAM": stream,
            "ARTBOARD_JOB_LEASE_S": lease_s,
            "ARTBOARD_MAX_RUNNING_PER_USER": "4",  # both workers busy: the one stopped holds jobs
        }
        with deployment(tmp_path, **settings) as artboard:
            url = artboard.serve("server", "--no-worker")
            workers = {name: artboard.worker(name, "--concurrency", "2") for name in ("worker-a", "worker-b")}
            artboard.wait_for_workers(*workers)
            with httpx.Client(base_url=url, timeout=30) as http:
                account, job_ids = start_jobs(http)
                holders = eventually(lambda: set(running_jobs(artboard).values()), "a job to start")
                holder = min(holders)
                stopped = next(name for name, process in workers.items() if process.pid == worker_pid(holder))
                workers[stopped].send_signal(stop)
                exit_code = workers[stopped].wait(timeout=30)
                assert exit_code == (0 if stop == signal.SIGTERM else -signal.SIGKILL), artboard.log(stopped)
                left_running = [job for job, worker in running_jobs(artboard).items() if worker == holder]
                if stop == signal.SIGTERM:
                    assert not left_running, (
                        f"a stopped worker puts its jobs back on its way out:\n{artboard.log(stopped)}"
                    )
                    assert workers[stopped].pid not in artboard.worker_ids(), "and takes its heartbeat row with it"
                else:
                    assert left_running, "the worker was killed between jobs"

                assert_each_finished_once(http, account, artboard, job_ids)
            rows = artboard.sql("SELECT worker_id FROM jobs WHERE attempts = 2")
            jobs = artboard.sql("SELECT id, status, attempts, worker_id, message FROM jobs")
            assert rows, f"no job was started twice (by the stopped worker, then by the other): {jobs}"
            (survivor,) = set(workers) - {stopped}
            assert {worker_pid(worker) for (worker,) in rows} == {workers[survivor].pid}
