"""Request and response models of the job routes, and the job as every event carries it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from artboard.kit.body import JsonObject
from artboard.models import Job
from artboard.models.base import ID_PATTERN

Status = Literal["queued", "running", "succeeded", "failed", "canceled", "timed_out"]
EntityId = Annotated[str, StringConstraints(pattern=f"^{ID_PATTERN}$")]
ModelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class JobError(BaseModel):
    code: str
    message: str


class JobResult(BaseModel):
    images: list[str] = Field(description="Ids of the gallery images the job made (see `/api/images/{id}`).")
    data: dict[str, Any] = Field(default_factory=dict)


class JobOut(BaseModel):
    id: str
    kind: str
    engine: str
    model: str
    status: Status
    progress: float = Field(description="0..1")
    message: str | None
    queue_position: int | None = Field(description="1 for the next job to start; null unless queued.")
    input: dict[str, Any]
    result: JobResult | None
    error: JobError | None
    cost: float
    attempts: int
    priority: int
    retry_of: str | None
    created: datetime
    started: datetime | None
    finished: datetime | None
    updated: datetime


def job_out(job: Job, queue_position: int | None = None) -> JobOut:
    return JobOut(
        id=job.id,
        kind=job.kind,
        engine=job.engine,
        model=job.model,
        status=job.status,
        progress=job.progress,
        message=job.message,
        queue_position=queue_position if job.status == "queued" else None,
        input=job.input,
        result=JobResult.model_validate(job.result) if job.result is not None else None,
        error=JobError(code=job.error_code, message=job.error_message or "") if job.error_code else None,
        cost=job.cost,
        attempts=job.attempts,
        priority=job.priority,
        retry_of=job.retry_of,
        created=job.created,
        started=job.started,
        finished=job.finished,
        updated=job.updated,
    )


class JobSubmit(BaseModel):
    """A job of any model in the catalog (`GET /api/custom/generate/models` lists them)."""

    model: ModelName
    image_id: EntityId | None = Field(None, description="The source image, for models that start from one.")
    parameters: JsonObject = Field(default_factory=dict)
    priority: int = Field(0, ge=-10, le=10, description="Higher runs first among the same user's jobs.")


class JobEventOut(BaseModel):
    type: Literal["job.updated"]
    seq: int
    job: JobOut


class QueueCounts(BaseModel):
    counts: dict[str, int]
    oldest_queued_age_s: float | None
    live_workers: int
    paused: bool
