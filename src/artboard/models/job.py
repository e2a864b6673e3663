"""Job tables: a row per job (the system of record; brokers carry only ids), the per-user event log that
lets a client catch up after a disconnect, live workers, and the queue's pause switch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from artboard.models.base import Base, UTCDateTime, id_column, timestamp_column, utcnow

QUEUED, RUNNING = "queued", "running"
SUCCEEDED, FAILED, CANCELED, TIMED_OUT = "succeeded", "failed", "canceled", "timed_out"
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELED, TIMED_OUT})
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED, TIMED_OUT)


class Job(Base):
    """Moves ``queued → running → succeeded | failed | canceled | timed_out`` only by conditional updates
    (``WHERE status = <expected>``), so two workers or a worker and a cancel can never both win."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("owner_id", "idempotency_key", name="uq_jobs_owner_idempotency_key"),
        Index("ix_jobs_claimable", "status", "run_after"),
        Index("ix_jobs_owner_created", "owner_id", "created"),
    )

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    engine: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    input: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(String(300), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    retry_of: Mapped[str | None] = mapped_column(String(15), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # What a provider engine saved before waiting (its request id...), so a later attempt resumes, never resubmits.
    provider_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The provider key a paid job runs with, sealed with the server key; wiped when the job ends.
    sealed_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created: Mapped[datetime] = timestamp_column()
    started: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated: Mapped[datetime] = timestamp_column(onupdate=True)


# Queued counts, queue positions and fair claims: by status, then owner, in each owner's claim order (highest
# priority first, then oldest), so a claim reads an owner's next jobs off the index without sorting the rest.
Index("ix_jobs_queue", Job.status, Job.owner_id, Job.priority.desc(), Job.created, Job.id)


class JobEvent(Base):
    """One change of one job, numbered per user (``seq``) so a client can ask for what it missed."""

    __tablename__ = "job_events"
    __table_args__ = (UniqueConstraint("owner_id", "seq", name="uq_job_events_owner_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[str] = mapped_column(String(15), index=True)
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class EventCounter(Base):
    """The last ``seq`` given to each user's events: incremented in the transaction that writes the event."""

    __tablename__ = "event_counters"

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class WorkerRow(Base):
    """A live worker process: it heartbeats; one silent for a few leases is gone."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    running: Mapped[int] = mapped_column(Integer, default=0)
    started: Mapped[datetime] = timestamp_column()
    heartbeat: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class QueueFlag(Base):
    """Switches an admin flips for every worker at once (``paused``)."""

    __tablename__ = "queue_flags"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
