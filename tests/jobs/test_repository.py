"""The queue's statements on SQLite and PostgreSQL.

Which queued jobs a claim takes: every user's next job before anyone's second, then priority, then age; never
past a user's running cap; nothing not yet due and nothing while paused; and whether jobs were left that a
freed slot could start. Which jobs a set of conditional moves moves: only those still in the expected status
(and held by the worker named), whether they share one statement or not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard.db import create_engine, session_factory, transaction
from artboard.jobs import repository
from artboard.jobs.service import PAUSED
from artboard.migrate import upgrade
from artboard.models import EventCounter, Job, JobEvent, QueueFlag, User
from artboard.models.base import utcnow
from artboard.models.job import CANCELED, QUEUED, RUNNING, SUCCEEDED
from tests.support import postgres_database

OWNERS = ("ann", "bob", "cy")


@dataclass(frozen=True)
class Scenario:
    # Queued jobs, oldest first: "<owner><n>", with "!" for priority 1 and "~" for not due yet.
    queued: list[str]
    claimed: list[str]  # in any order (the claim's UPDATE returns its rows unordered)
    passed_over: bool
    running: dict[str, int] = field(default_factory=dict)  # jobs of each owner running already
    limit: int = 10  # free slots
    cap: int = 2  # ARTBOARD_MAX_RUNNING_PER_USER
    paused: bool = False


SCENARIOS = {
    "an empty queue gives nothing": Scenario([], [], passed_over=False),
    "one user's jobs up to the cap, the rest left": Scenario(["ann1", "ann2", "ann3"], ["ann1", "ann2"], True),
    "every user's next job before anyone's second": Scenario(
        ["ann1", "ann2", "ann3", "bob1", "cy1"], ["ann1", "bob1", "cy1", "ann2"], True
    ),
    "free slots bound the claim, in turn order": Scenario(
        ["ann1", "ann2", "bob1", "bob2"], ["ann1", "bob1"], True, limit=2
    ),
    "a user's running jobs count against their turn": Scenario(
        ["ann1", "bob1", "bob2"], ["bob1", "ann1"], True, running={"ann": 1}, limit=2
    ),
    "a user at the cap gets nothing": Scenario(["ann1", "bob1"], ["bob1"], True, running={"ann": 2}),
    "priority first within a user, then age": Scenario(["ann1", "ann2!", "ann3"], ["ann2!", "ann1"], True),
    "priority breaks ties between users in the same turn": Scenario(["ann1", "bob1!"], ["bob1!", "ann1"], False),
    "a job not due yet waits": Scenario(["ann1~", "ann2"], ["ann2"], False),
    "a paused queue gives nothing": Scenario(["ann1", "bob1"], [], False, paused=True),
    "a deep queue still gives each user their turn": Scenario(
        [f"ann{n}" for n in range(1, 301)] + ["bob1"], ["ann1", "bob1", "ann2"], True, limit=3, cap=3
    ),
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('claims') / 'claims.db'}"
        upgrade(url)
        yield url
    else:
        with postgres_database() as url:
            upgrade(url)
            yield url


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_a_claim_takes_jobs_in_the_fair_order(database_url: str, scenario: Scenario) -> None:
    claimed, passed_over = asyncio.run(claim(database_url, scenario))
    assert (sorted(claimed), passed_over) == (sorted(scenario.claimed), scenario.passed_over)


async def claim(database_url: str, scenario: Scenario) -> tuple[list[str], bool]:
    now = utcnow()
    async with emptied(database_url) as sessions:
        async with transaction(sessions) as db:
            names: dict[str, str] = {}
            for age, name in enumerate(scenario.queued):
                names[f"{age:03d}"] = name
                db.add(job(name, QUEUED, f"{age:03d}", now - timedelta(seconds=1000 - age), now))
            for owner, count in scenario.running.items():
                for n in range(count):
                    db.add(job(owner, RUNNING, f"run-{owner}-{n}", now - timedelta(seconds=2000), now))
            if scenario.paused:
                db.add(QueueFlag(name=PAUSED, enabled=True))
        async with transaction(sessions) as db:
            claimed = await repository.claim(
                db, "worker", scenario.limit, scenario.cap, now, now + timedelta(seconds=30), unless_flag=PAUSED
            )
        return [names[row.id] for row in claimed.jobs], claimed.passed_over


@asynccontextmanager
async def emptied(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the database, with no jobs, events or flags, and only the users of ``OWNERS`` in it."""
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        async with transaction(sessions) as db:
            await db.execute(delete(Job))
            await db.execute(delete(JobEvent))
            await db.execute(delete(EventCounter))
            await db.execute(delete(QueueFlag))
            await db.execute(delete(User))
            for owner in OWNERS:
                db.add(User(id=owner, email=f"{owner}@example.com", email_key=owner, username=owner, password_hash="x"))
        yield sessions
    finally:
        await engine.dispose()


def job(name: str, status: str, job_id: str, created: datetime, now: datetime) -> Job:
    owner = name.rstrip("!~0123456789")
    return Job(
        id=job_id,
        owner_id=owner,
        kind="bench",
        engine="bench",
        model="bench:noop",
        input={},
        status=status,
        priority=1 if "!" in name else 0,
        created=created,
        updated=now,
        run_after=now + timedelta(hours=1) if "~" in name else now,
    )


# Each job before the moves: (status, the worker holding it).
BEFORE = {"a": (RUNNING, "w1"), "b": (RUNNING, "w1"), "c": (RUNNING, "w2"), "d": (QUEUED, None)}
DONE = {"status": SUCCEEDED, "progress": 1.0, "message": "Done."}
MOVES = {
    # moves (job, expected status, values, release) → the jobs moved, and each job's status and worker after
    "finishes of one shape move together": (
        [("a", RUNNING, DONE | {"worker_id": "w1"}, False), ("b", RUNNING, DONE | {"worker_id": "w1"}, False)],
        {"a": (SUCCEEDED, "w1"), "b": (SUCCEEDED, "w1")},
    ),
    "a job another worker holds is left alone": (
        [("a", RUNNING, DONE | {"worker_id": "w1"}, False), ("c", RUNNING, DONE | {"worker_id": "w1"}, False)],
        {"a": (SUCCEEDED, "w1")},
    ),
    "a job no longer in the expected status is left alone": (
        [("d", RUNNING, DONE, False), ("a", RUNNING, DONE, False)],
        {"a": (SUCCEEDED, "w1")},
    ),
    "moves of different shapes in one call": (
        [("a", RUNNING, {"progress": 0.5, "worker_id": "w1"}, False), ("b", RUNNING, DONE, False)],
        {"a": (RUNNING, "w1"), "b": (SUCCEEDED, "w1")},
    ),
    "a release leaves the job held by no worker": (
        [("c", RUNNING, {"status": QUEUED, "worker_id": "w2"}, True), ("d", QUEUED, {"status": CANCELED}, False)],
        {"c": (QUEUED, None), "d": (CANCELED, None)},
    ),
}


@pytest.mark.parametrize(("moves", "moved"), MOVES.values(), ids=MOVES.keys())
def test_a_move_happens_only_from_the_expected_state(
    database_url: str, moves: list[tuple[str, str, dict[str, Any], bool]], moved: dict[str, tuple[str, str | None]]
) -> None:
    results, after = asyncio.run(move(database_url, [repository.Move(*arguments) for arguments in moves]))
    assert {job_id for job_id, row in zip([m[0] for m in moves], results, strict=True) if row is not None} == set(moved)
    for job_id, (status, worker) in BEFORE.items():
        assert after[job_id] == moved.get(job_id, (status, worker)), job_id


def test_one_call_moves_a_job_at_most_once(database_url: str) -> None:
    twice = [repository.Move("a", RUNNING, {"progress": 0.5}), repository.Move("a", RUNNING, DONE)]
    with pytest.raises(ValueError, match="at most once"):
        asyncio.run(move(database_url, twice))


async def move(database_url: str, moves: list[repository.Move]) -> tuple[list[Any], dict[str, tuple[str, str | None]]]:
    now = utcnow()
    async with emptied(database_url) as sessions:
        async with transaction(sessions) as db:
            for job_id, (status, worker) in BEFORE.items():
                row = job("ann", status, job_id, now, now)
                row.worker_id = worker
                db.add(row)
        async with transaction(sessions) as db:
            results = await repository.transition_all(db, moves)
        async with sessions() as db:
            after = {row.id: (row.status, row.worker_id) for row in (await db.execute(select(Job))).scalars()}
        return results, after


def test_events_are_numbered_per_user_in_the_order_given(database_url: str) -> None:
    def events(*job_ids: str) -> list[repository.NewEvent]:
        return [repository.NewEvent(job_id, "job.updated", json.dumps({"id": job_id})) for job_id in job_ids]

    async def write() -> tuple[list[dict[str, int]], list[tuple[str, int, str]]]:
        async with emptied(database_url) as sessions:
            firsts = []
            for batch in (
                {"ann": events("a1", "a2", "a3"), "bob": events("b1")},
                {"ann": events("a4"), "bob": events("b2", "b3")},
            ):
                async with transaction(sessions) as db:
                    firsts.append(await repository.add_events(db, batch, utcnow()))
            async with sessions() as db:
                rows = (await db.execute(select(JobEvent.owner_id, JobEvent.seq, JobEvent.job_id))).all()
            return firsts, sorted((owner, seq, job_id) for owner, seq, job_id in rows)

    firsts, rows = asyncio.run(write())
    assert firsts == [{"ann": 1, "bob": 1}, {"ann": 4, "bob": 2}]
    assert rows == [
        ("ann", 1, "a1"), ("ann", 2, "a2"), ("ann", 3, "a3"), ("ann", 4, "a4"),
        ("bob", 1, "b1"), ("bob", 2, "b2"), ("bob", 3, "b3"),
    ]  # fmt: skip
