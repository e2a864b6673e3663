"""Generic job routes (any model in the catalog) and the admin's view of the queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from artboard.auth.deps import AdminUser, CurrentUser
from artboard.deps import Db, JobsDep
from artboard.jobs.replies import SubmitOptionsDep, SubmitReply, finished_in_time
from artboard.jobs.schemas import JobOut, JobSubmit, QueueCounts, Status, job_json
from artboard.kit.pagination import Page, Pagination
from artboard.openapi import ADMIN_ONLY, BODY, PAID, errors

router = APIRouter(tags=["jobs"], responses=errors(401))


@router.post(
    "/api/jobs",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **finished_in_time(JobOut),
        **errors(*BODY, *PAID, 404, 409, 429, notes={409: "The Idempotency-Key was used for another request."}),
    },
)
async def submit_job(body: JobSubmit, user: CurrentUser, db: Db, jobs: JobsDep, options: SubmitOptionsDep) -> Response:
    """Queue a job of any model, its parameters checked against the model's schema."""
    submitted = await jobs.submit(
        db,
        user.id,
        body.model,
        body.parameters,
        source_image_id=body.image_id,
        priority=body.priority,
        idempotency_key=options.idempotency_key,
        session_id=options.session_id,
    )
    return SubmitReply(jobs, submitted, options, job_json)


@router.get("/api/jobs", response_model=Page[JobOut])
async def list_jobs(
    user: CurrentUser,
    db: Db,
    jobs: JobsDep,
    pagination: Pagination,
    status: Status | None = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[dict[str, Any]]:
    """The user's jobs, newest first, optionally one status or kind only."""
    rows, total = await jobs.page(db, user.id, pagination, status=status, kind=kind)
    return Page.of([job_json(job) for job in rows], pagination, total)


@router.get("/api/jobs/{job_id}", response_model=JobOut, responses=errors(404))
async def get_job(job_id: str, user: CurrentUser, db: Db, jobs: JobsDep) -> dict[str, Any]:
    """One job: status, progress, queue position, result or error."""
    job = await jobs.get(db, user.id, job_id)
    return job_json(job, await jobs.position(db, job))


@router.post("/api/jobs/{job_id}/cancel", response_model=JobOut, responses=errors(404))
async def cancel_job(job_id: str, user: CurrentUser, db: Db, jobs: JobsDep) -> dict[str, Any]:
    """Cancel: a queued job at once, a running one at its next checkpoint; a finished one stays as it is."""
    return job_json(await jobs.cancel(db, user.id, job_id))


@router.post(
    "/api/jobs/{job_id}/retry",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(*PAID, 404, 409, 429, notes={409: "Only a failed, canceled or timed-out job can be retried."}),
)
async def retry_job(
    job_id: str,
    user: CurrentUser,
    db: Db,
    jobs: JobsDep,
    x_session_id: Annotated[str | None, Header(max_length=128, description="A key session, for a paid model.")] = None,
) -> dict[str, Any]:
    """Queue a failed, canceled or timed-out job again, as a new job whose `retry_of` names this one."""
    retried = await jobs.retry(db, user.id, job_id, x_session_id or None)
    return job_json(retried, await jobs.position(db, retried))


# ---- admin -------------------------------------------------------------------------------------------------


@router.get("/api/admin/queue", response_model=QueueCounts, responses=ADMIN_ONLY)
async def queue(_admin: AdminUser, db: Db, jobs: JobsDep) -> dict[str, Any]:
    """Jobs by status, the oldest queued job's age, live workers, and whether claiming is paused."""
    return await jobs.queue_state(db)


@router.post("/api/admin/queue/pause", response_model=QueueCounts, responses=ADMIN_ONLY)
async def pause(_admin: AdminUser, db: Db, jobs: JobsDep) -> dict[str, Any]:
    """Workers stop claiming new jobs; running jobs finish."""
    await jobs.set_paused(db, True)
    return await jobs.queue_state(db)


@router.post("/api/admin/queue/resume", response_model=QueueCounts, responses=ADMIN_ONLY)
async def resume(_admin: AdminUser, db: Db, jobs: JobsDep) -> dict[str, Any]:
    """Workers claim again."""
    await jobs.set_paused(db, False)
    return await jobs.queue_state(db)


@router.get("/api/admin/jobs", response_model=Page[JobOut], responses=ADMIN_ONLY)
async def all_jobs(
    _admin: AdminUser,
    db: Db,
    jobs: JobsDep,
    pagination: Pagination,
    status: Status | None = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[dict[str, Any]]:
    """Every user's jobs, newest first, with the same filters."""
    rows, total = await jobs.page(db, None, pagination, status=status, kind=kind)
    return Page.of([job_json(job) for job in rows], pagination, total)
