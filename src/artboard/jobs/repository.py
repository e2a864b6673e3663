"""All SQL of jobs, their events, workers and queue flags. A user's own jobs are always filtered by owner;
the claim, lease and admin queries span users by design (they are the queue)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Executable, Row, Table, Text, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from artboard.db import upsert
from artboard.jobs.schemas import JobView
from artboard.models import EventCounter, Job, JobEvent, QueueFlag, User, WorkerRow
from artboard.models.base import UTCDateTime
from artboard.models.job import QUEUED, RUNNING


async def job(db: AsyncSession, owner_id: str, job_id: str) -> Job | None:
    return (await db.execute(select(Job).where(Job.id == job_id, Job.owner_id == owner_id))).scalar_one_or_none()


async def job_by_key(db: AsyncSession, owner_id: str, key: str) -> Job | None:
    query = select(Job).where(Job.owner_id == owner_id, Job.idempotency_key == key)
    return (await db.execute(query)).scalar_one_or_none()


async def add_job(db: AsyncSession, job: Job) -> None:
    """Insert a new job on the table, every column as ``job`` gives it (the ORM's unit of work cost a submit
    more than the statement; ``job`` is left out of the session, a description of the row)."""
    await db.execute(_INSERT_JOB, {column.name: getattr(job, column.key) for column in _JOBS.columns})


async def delete_job(db: AsyncSession, owner_id: str, job_id: str) -> None:
    """Forget a job; a worker still running it finds nothing to finish (its conditional updates match no row)."""
    await db.execute(delete(Job).where(Job.id == job_id, Job.owner_id == owner_id))


async def jobs(
    db: AsyncSession,
    owner_id: str | None,
    *,
    status: str | None,
    kind: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Job], int]:
    """Newest first; ``owner_id=None`` lists every user's (admins)."""
    conditions = []
    if owner_id is not None:
        conditions.append(Job.owner_id == owner_id)
    if status is not None:
        conditions.append(Job.status == status)
    if kind is not None:
        conditions.append(Job.kind == kind)
    total = (await db.execute(select(func.count()).select_from(Job).where(*conditions))).scalar_one()
    rows = await db.execute(
        select(Job).where(*conditions).order_by(Job.created.desc(), Job.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), total


class Submitter(NamedTuple):
    """What a submit checks about its user, read as it holds their other submits out."""

    queued: int  # their jobs waiting to start
    monthly_budget: float | None  # their own budget; None: the server's applies


async def hold_submits(db: AsyncSession, owner_id: str) -> Submitter:
    """Keep the user's other submits out until this transaction ends, so the queued cap and the budget are
    checked against what is really there: a write that changes nothing takes the user's row lock on
    PostgreSQL (rows merely referencing the user do not wait for it) and the write lock on SQLite (whose driver
    runs a SELECT outside the transaction, so only a write serialises); it reads what the checks need.

    On SQLite the count comes with the same statement (a writer reads the latest data). PostgreSQL evaluates a
    statement's subqueries in the snapshot taken before it waited for the lock, blind to the submit it waited
    for, so there the count is a statement of its own, run once the lock is held."""
    on_sqlite = db.get_bind().dialect.name == "sqlite"
    row = (await db.execute(_HOLD_AND_COUNT if on_sqlite else _HOLD, {"owner_id": owner_id})).one_or_none()
    if row is None:
        return Submitter(0, None)
    queued = row.queued if on_sqlite else (await db.execute(_QUEUED, {"owner_id": owner_id})).scalar_one()
    return Submitter(int(queued), row.monthly_budget)


_USERS = cast(Table, User.__table__)
_JOBS = cast(Table, Job.__table__)
# On the tables, built once: every submit runs them.
_INSERT_JOB = insert(_JOBS)
# ``updated`` set to itself, or its onupdate would move it.
_HOLD = (
    update(_USERS)
    .where(_USERS.c.id == bindparam("owner_id"))
    .values(updated=_USERS.c.updated)
    .returning(_USERS.c.monthly_budget)
)
_QUEUED = (
    select(func.count()).select_from(_JOBS).where(_JOBS.c.owner_id == bindparam("owner_id"), _JOBS.c.status == QUEUED)
)
_HOLD_AND_COUNT = _HOLD.returning(_QUEUED.scalar_subquery().label("queued"))


# Written out, not built with SQLAlchemy's expression language: every submit asks it, and building the
# statement cost twice what running it does.
_POSITION = """
    WITH ahead AS (
        SELECT count(*) + 1 AS own_rank FROM jobs
        WHERE owner_id = :owner_id AND status = 'queued'
          AND (priority > :priority
               OR (priority = :priority AND (created < :created OR (created = :created AND id < :id))))
    )
    SELECT own_rank + coalesce((
        SELECT sum(CASE WHEN queued < own_rank THEN queued ELSE own_rank - 1 END)
        FROM (SELECT count(*) AS queued FROM jobs
              WHERE status = 'queued' AND owner_id <> :owner_id GROUP BY owner_id) AS others
    ), 0)"""
_QUEUE_POSITION = text(f"{_POSITION} FROM ahead").bindparams(bindparam("created", type_=UTCDateTime()))
# The position, and whether the job may start at once, skipping the queue: nothing else is waiting to start (so no
# one is passed over), its owner is below the running cap, and the queue is not paused.
_PLACE = text(
    f"""{_POSITION},
       NOT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND run_after <= :created AND id <> :id)
       AND (SELECT count(*) FROM jobs WHERE status = 'running' AND owner_id = :owner_id) < :max_running
       AND NOT EXISTS (SELECT 1 FROM queue_flags WHERE name = :flag AND enabled = true)
    FROM ahead"""  # noqa: S608 (a constant of this module)
).bindparams(bindparam("created", type_=UTCDateTime()))


async def queue_position(db: AsyncSession, job: JobView) -> int:
    """Where a queued job stands in the fair order: its rank among its owner's queued jobs, plus the jobs
    other users get to start in the rounds before (each user has one turn per round, and no more jobs than
    they have queued)."""
    return int((await db.execute(_QUEUE_POSITION, _position_parameters(job))).scalar_one())


class Place(NamedTuple):
    position: int
    may_start: bool  # the fair order would start it next: it may skip the queue


async def place(db: AsyncSession, job: Job, max_running_per_user: int, unless_flag: str) -> Place:
    """Where a job just queued stands (``queue_position``), and whether it may start at once: nothing else
    waits to start, its owner runs fewer than ``max_running_per_user``, the flag ``unless_flag`` (the queue
    paused) is off. One statement: every submit asks."""
    parameters = {**_position_parameters(job), "max_running": max_running_per_user, "flag": unless_flag}
    position, may_start = (await db.execute(_PLACE, parameters)).one()
    return Place(int(position), bool(may_start))


def _position_parameters(job: JobView) -> dict[str, Any]:
    return {"owner_id": job.owner_id, "priority": job.priority, "created": job.created, "id": job.id}


# Each waiting user's next jobs in their own order (priority, then age), with how many of theirs run now. A
# claim never takes more of one user's jobs than there are free slots or than the running cap allows, so only
# that many (plus one, to see that more wait) are read per user, off ``ix_jobs_queue``: a round costs the same
# whether a user has queued ten jobs or ten thousand. The users with queued jobs are found by skipping through
# the index (one lookup per user). SQLite has no LATERAL: there a user's next jobs are an ``IN`` list, which
# it reads per user; PostgreSQL would run that list once per job row, so there it is a LATERAL subquery.
# Written out for the same reason as the queue position: the worker asks it on every round with room.
_NEXT_JOBS = """
    WITH RECURSIVE waiting(owner_id) AS (
        SELECT min(owner_id) FROM jobs WHERE status = 'queued'
        UNION ALL
        SELECT (SELECT min(owner_id) FROM jobs WHERE status = 'queued' AND owner_id > waiting.owner_id)
        FROM waiting WHERE waiting.owner_id IS NOT NULL
    )
    SELECT upcoming.id, upcoming.owner_id, upcoming.priority, upcoming.created, coalesce(busy.running, 0) AS running
    FROM waiting {upcoming}
    LEFT JOIN (
        SELECT owner_id, count(*) AS running FROM jobs WHERE status = 'running' GROUP BY owner_id
    ) AS busy ON busy.owner_id = waiting.owner_id
    WHERE NOT EXISTS (SELECT 1 FROM queue_flags WHERE name = :flag AND enabled = true)
    ORDER BY upcoming.owner_id, upcoming.priority DESC, upcoming.created, upcoming.id
    """
_OWNERS_NEXT = """
        SELECT id{columns} FROM {jobs}
        WHERE status = 'queued' AND owner_id = waiting.owner_id AND run_after <= :now
        ORDER BY priority DESC, created, id LIMIT :per_owner"""
_SQLITE_NEXT = _OWNERS_NEXT.format(
    columns="",
    # Without statistics SQLite would read a user's next jobs through ix_jobs_claimable and sort them all.
    jobs="jobs INDEXED BY ix_jobs_queue",
)
_POSTGRES_NEXT = _OWNERS_NEXT.format(columns=", owner_id, priority, created", jobs="jobs")
_NEXT_JOBS_BY_DIALECT = {
    "sqlite": _NEXT_JOBS.format(upcoming=f"JOIN jobs AS upcoming ON upcoming.id IN ({_SQLITE_NEXT})"),
    "postgresql": _NEXT_JOBS.format(upcoming=f"CROSS JOIN LATERAL ({_POSTGRES_NEXT}) AS upcoming"),
}


@functools.cache
def _next_jobs_statement(dialect: str) -> Executable:
    return text(_NEXT_JOBS_BY_DIALECT[dialect]).bindparams(bindparam("now", type_=UTCDateTime()))


class _Candidate(NamedTuple):
    turn: int  # the claim round that would start it: its rank among its owner's jobs plus their running jobs
    priority: int  # negated: higher first
    created: datetime
    id: str


def _in_turn(rows: Sequence[Row[Any]]) -> list[_Candidate]:
    """Every user's next job before anyone's second (rows come per owner, in the owner's order)."""
    candidates = []
    owner, rank = None, 0
    for row in rows:
        rank = rank + 1 if row.owner_id == owner else 1
        owner = row.owner_id
        candidates.append(_Candidate(rank + row.running, -row.priority, row.created, row.id))
    return sorted(candidates)


# What a written-out UPDATE of a job gives back: the whole row, as a row (a ``JobView``), not an ORM object.
_RETURNING_JOB = ", ".join(f'"{column.name}"' for column in _JOBS.columns)

# Written out once: the same conditional update claims every batch (a worker only reads the rows it returns).
_CLAIM = (
    text(
        "UPDATE jobs SET status = 'running', worker_id = :worker_id, lease_until = :lease_until, "  # noqa: S608
        "started = :now, updated = :now, attempts = attempts + 1, progress = 0, message = NULL "
        f"WHERE id IN :ids AND status = 'queued' RETURNING {_RETURNING_JOB}"  # the table's own column names
    )
    .bindparams(
        bindparam("ids", expanding=True),
        bindparam("lease_until", type_=UTCDateTime()),
        bindparam("now", type_=UTCDateTime()),
    )
    .columns(*_JOBS.columns)
)


class Claimed(NamedTuple):
    jobs: list[Row[Any]]  # each a RunningJob
    passed_over: bool  # queued jobs are left that may start once a slot frees (their owner was at the cap)


async def claim(
    db: AsyncSession,
    worker_id: str,
    limit: int,
    max_running_per_user: int,
    now: datetime,
    lease_until: datetime,
    unless_flag: str,
) -> Claimed:
    """Take up to ``limit`` queued jobs for this worker, fairly: every user's next job before anyone's
    second (ranked per user by priority, then age), never more than ``max_running_per_user`` running per
    user, and none while the flag ``unless_flag`` is on (the queue paused). The conditional UPDATE makes a
    job one worker's even when two pick the same candidates."""
    parameters = {"now": now, "flag": unless_flag, "per_owner": min(limit, max_running_per_user) + 1}
    rows = (await db.execute(_next_jobs_statement(db.get_bind().dialect.name), parameters)).all()
    candidates = _in_turn(rows)
    ids = [candidate.id for candidate in candidates[:limit] if candidate.turn <= max_running_per_user]
    if not ids:
        return Claimed([], bool(candidates))
    values = {"ids": ids, "worker_id": worker_id, "lease_until": lease_until, "now": now}
    claimed = list((await db.execute(_CLAIM, values)).all())
    return Claimed(claimed, len(candidates) > len(claimed))


async def claim_at_once(
    db: AsyncSession, job: Job, worker_id: str, now: datetime, lease_until: datetime
) -> Row[Any] | None:
    """Start ``job`` (queued in this transaction, and free to skip the queue: ``place``) on this worker now;
    None if it is no longer queued."""
    values = {"ids": [job.id], "worker_id": worker_id, "lease_until": lease_until, "now": now}
    return (await db.execute(_CLAIM, values)).one_or_none()


class Move(NamedTuple):
    """One job's conditional update: ``transition``'s arguments, to be written alone or with others."""

    job_id: str
    expected: str
    values: dict[str, Any]
    release: bool = False


async def transition(
    db: AsyncSession, job_id: str, expected: str, values: dict[str, Any], *, release: bool = False
) -> Row[Any] | None:
    """Move a job on only if it is still in ``expected`` (and, for a running job, still this worker's when
    ``values`` names a ``worker_id`` to match); None when someone else moved it first, else the job's row as
    it now is (a ``JobView``, no ORM object: making one cost as much as the statement). With ``release``, the
    same update leaves the job held by no worker (put back in the queue, or given up)."""
    return (await transition_all(db, [Move(job_id, expected, values, release)]))[0]


async def transition_all(db: AsyncSession, moves: Sequence[Move]) -> list[Row[Any] | None]:
    """``transition`` for several jobs, each at most once, in as few statements as their shapes allow: the
    moves that set the same columns from the same status (a worker's round of finishes, say) are one
    ``UPDATE … FROM (VALUES …)``. Returns each move's row (or None) in the order of ``moves``."""
    if len({move.job_id for move in moves}) < len(moves):
        raise ValueError("transition_all moves each job at most once")
    shapes: dict[tuple[str, tuple[str, ...], bool], list[int]] = {}
    rows: list[dict[str, Any]] = []
    for index, move in enumerate(moves):
        values = dict(move.values)
        held_by = values.pop("worker_id", None)
        if move.release:
            values["worker_id"] = None
        rows.append({"job_id": move.job_id, "held_by": held_by, **{f"set_{name}": v for name, v in values.items()}})
        shapes.setdefault((move.expected, tuple(sorted(values)), held_by is not None), []).append(index)
    moved: list[Row[Any] | None] = [None] * len(moves)
    for (expected, columns, match_worker), indexes in shapes.items():
        statement = _transition_statement(columns, match_worker, len(indexes))
        parameters: dict[str, Any] = {"expected": expected}
        for number, index in enumerate(indexes):
            parameters.update({f"{name}_{number}": value for name, value in rows[index].items()})
        by_id = {row.id: row for row in await db.execute(statement, parameters)}
        for index in indexes:
            moved[index] = by_id.get(moves[index].job_id)
    return moved


@functools.cache
def _transition_statement(columns: tuple[str, ...], match_worker: bool, count: int) -> Executable:
    """The conditional UPDATE … RETURNING of ``transition_all`` for ``count`` jobs setting ``columns``, written
    out once (a dozen column sets, few shapes); the new values come as a VALUES list joined by job id (its
    columns are ``column1``, ``column2``… on SQLite and PostgreSQL alike), each typed as its table column, so
    PostgreSQL knows their types and JSON and times come back decoded."""
    fields = ["job_id", *(["held_by"] if match_worker else []), *(f"set_{name}" for name in columns)]
    position = {field: f"v.column{number}" for number, field in enumerate(fields, 1)}
    types = {f"set_{name}": _JOBS.columns[name].type for name in columns} | {
        "job_id": _JOBS.c.id.type,
        "held_by": _JOBS.c.worker_id.type,
    }
    rows = ", ".join("(" + ", ".join(f":{field}_{n}" for field in fields) + ")" for n in range(count))
    assignments = ", ".join(f'"{name}" = {position[f"set_{name}"]}' for name in columns)
    condition = "jobs.id = v.column1 AND jobs.status = :expected"
    if match_worker:
        condition += f" AND jobs.worker_id = {position['held_by']}"
    sql = f"UPDATE jobs SET {assignments} FROM (VALUES {rows}) AS v WHERE {condition} RETURNING {_RETURNING_JOB}"  # noqa: S608 (names and placeholders)
    typed = [bindparam(f"{field}_{n}", type_=types[field]) for n in range(count) for field in fields]
    return text(sql).bindparams(*typed).columns(*_JOBS.columns)


async def extend_leases(db: AsyncSession, worker_id: str, job_ids: Sequence[str], lease_until: datetime) -> set[str]:
    """Renew this worker's leases; returns the ids whose cancellation was asked for meanwhile."""
    if not job_ids:
        return set()
    await db.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.worker_id == worker_id, Job.status == RUNNING)
        .values(lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    asked = await db.execute(select(Job.id).where(Job.id.in_(job_ids), Job.cancel_requested.is_(True)))
    return set(asked.scalars())


async def expired_leases(db: AsyncSession, now: datetime) -> list[Job]:
    query = select(Job).where(Job.status == RUNNING, Job.lease_until < now).limit(100)
    return list((await db.execute(query)).scalars())


async def held_by(db: AsyncSession, worker_id: str) -> list[Job]:
    """The running jobs this worker holds, as the database knows them."""
    query = select(Job).where(Job.status == RUNNING, Job.worker_id == worker_id)
    return list((await db.execute(query)).scalars())


class NewEvent(NamedTuple):
    job_id: str
    type: str
    payload: str  # JSON text, written as it is: the same text is published, so it is encoded once


async def add_events(db: AsyncSession, events: dict[str, list[NewEvent]], created: datetime) -> dict[str, int]:
    """Number each user's new events after their latest, in the order given, and insert them in the caller's
    transaction (which serialises a user's events: their counter row is locked until it ends); returns each
    user's first new number. On PostgreSQL a user's numbering and insert are one statement (a data-modifying
    CTE: one round trip fewer for every event write); SQLite has none, so there each user's numbers are taken
    first and every event goes in with one insert."""
    if db.get_bind().dialect.name == "postgresql":
        return {owner_id: await _add_numbered(db, owner_id, owned, created) for owner_id, owned in events.items()}
    first = {
        owner_id: await _take_seqs(db, owner_id, len(owned)) - len(owned) + 1 for owner_id, owned in events.items()
    }
    rows = [
        {"owner_id": owner_id, "seq": first[owner_id] + n, "created": created, **event._asdict()}
        for owner_id, owned in events.items()
        for n, event in enumerate(owned)
    ]
    if rows:
        await db.execute(_INSERT_EVENTS, rows)
    return first


_EVENTS = cast(Table, JobEvent.__table__)
_INSERT_EVENTS = insert(_EVENTS).values(
    owner_id=bindparam("owner_id"),
    seq=bindparam("seq"),
    job_id=bindparam("job_id"),
    type=bindparam("type"),
    payload=bindparam("payload", type_=Text()),  # already JSON
    created=bindparam("created"),
)


async def _take_seqs(db: AsyncSession, owner_id: str, count: int) -> int:
    """Take the user's next ``count`` event numbers; returns the last of them."""
    return int((await db.execute(_TAKE_SEQS, {"owner_id": owner_id, "count": count})).scalar_one())


_COUNTERS = cast(Table, EventCounter.__table__)
_TAKE_SEQS = (
    sqlite.insert(_COUNTERS)
    .values(owner_id=bindparam("owner_id"), seq=bindparam("count", type_=_COUNTERS.c.seq.type))
    .on_conflict_do_update(
        index_elements=[_COUNTERS.c.owner_id],
        set_={"seq": _COUNTERS.c.seq + bindparam("count", type_=_COUNTERS.c.seq.type)},
    )
    .returning(_COUNTERS.c.seq)
)


async def _add_numbered(db: AsyncSession, owner_id: str, events: list[NewEvent], created: datetime) -> int:
    parameters: dict[str, Any] = {"owner_id": owner_id, "count": len(events), "created": created}
    for n, event in enumerate(events):
        parameters |= {f"job_id_{n}": event.job_id, f"type_{n}": event.type, f"payload_{n}": event.payload}
    numbers = (await db.execute(_numbered_insert(len(events)), parameters)).scalars()
    return int(min(numbers))


@functools.cache
def _numbered_insert(count: int) -> Executable:
    """PostgreSQL: take ``count`` numbers from the user's counter and insert that many events with them, in
    one statement (built once per count; the VALUES list's columns are ``column1``… and typed by their binds)."""
    rows = ", ".join(f"({n}, :job_id_{n}, :type_{n}, :payload_{n})" for n in range(count))
    typed = [
        bindparam(f"{field}_{n}", type_=Text() if field == "payload" else _EVENTS.c[field].type)
        for n in range(count)
        for field in ("job_id", "type", "payload")
    ]
    return text(
        f"""
        WITH taken AS (
            INSERT INTO event_counters (owner_id, seq) VALUES (:owner_id, :count)
            ON CONFLICT (owner_id) DO UPDATE SET seq = event_counters.seq + :count
            RETURNING seq
        )
        INSERT INTO job_events (owner_id, seq, job_id, type, payload, created)
        SELECT :owner_id, taken.seq - :count + 1 + e.column1, e.column2, e.column3, CAST(e.column4 AS JSON), :created
        FROM taken, (VALUES {rows}) AS e
        RETURNING seq"""  # noqa: S608 (placeholders only)
    ).bindparams(
        *typed,
        bindparam("count", type_=_EVENTS.c.seq.type),
        bindparam("created", type_=_EVENTS.c.created.type),
    )


async def latest_seq(db: AsyncSession, owner_id: str) -> int:
    """The number of the user's latest event (0 before the first); every event up to it is committed."""
    query = select(EventCounter.seq).where(EventCounter.owner_id == owner_id)
    return int((await db.execute(query)).scalar_one_or_none() or 0)


async def events_since(
    db: AsyncSession, owner_id: str, seq: int, limit: int, job_id: str | None = None
) -> list[JobEvent]:
    query = select(JobEvent).where(JobEvent.owner_id == owner_id, JobEvent.seq > seq)
    if job_id is not None:
        query = query.where(JobEvent.job_id == job_id)
    return list((await db.execute(query.order_by(JobEvent.seq).limit(limit))).scalars())


async def prune_events(db: AsyncSession, older_than: datetime, keep_per_user: int) -> int:
    """Forget events past the retention: older than ``older_than`` and not among a user's last ``keep_per_user``."""
    latest = select(EventCounter.owner_id, EventCounter.seq).subquery()
    stale = (
        select(JobEvent.id)
        .join(latest, latest.c.owner_id == JobEvent.owner_id)
        .where(JobEvent.created < older_than, JobEvent.seq <= latest.c.seq - keep_per_user)
    )
    result = await db.execute(
        delete(JobEvent).where(JobEvent.id.in_(stale)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def status_counts(db: AsyncSession) -> dict[str, int]:
    rows = await db.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status: int(count) for status, count in rows.all()}


async def oldest_queued(db: AsyncSession) -> datetime | None:
    result = await db.execute(select(func.min(Job.created)).where(Job.status == QUEUED))
    value: datetime | None = result.scalar_one()
    return value


async def is_flag_on(db: AsyncSession, name: str) -> bool:
    return bool((await db.execute(select(QueueFlag.enabled).where(QueueFlag.name == name))).scalar_one_or_none())


async def set_flag(db: AsyncSession, name: str, enabled: bool) -> None:
    """One upsert: two admins flipping the flag at once both succeed."""
    statement = upsert(db, QueueFlag).values(name=name, enabled=enabled)
    await db.execute(statement.on_conflict_do_update(index_elements=[QueueFlag.name], set_={"enabled": enabled}))


async def heartbeat(db: AsyncSession, worker: WorkerRow) -> None:
    await db.merge(worker)


async def forget_worker(db: AsyncSession, worker_id: str) -> None:
    await db.execute(delete(WorkerRow).where(WorkerRow.id == worker_id))


async def live_workers(db: AsyncSession, since: datetime) -> int:
    query = select(func.count()).select_from(WorkerRow).where(WorkerRow.heartbeat >= since)
    return int((await db.execute(query)).scalar_one())


async def pending_cost(db: AsyncSession, owner_id: str) -> float:
    """What the owner's jobs not yet finished are expected to cost (their estimate, kept in ``cost``)."""
    query = select(func.coalesce(func.sum(Job.cost), 0.0)).where(
        Job.owner_id == owner_id, Job.status.in_((QUEUED, RUNNING))
    )
    return float((await db.execute(query)).scalar_one())
