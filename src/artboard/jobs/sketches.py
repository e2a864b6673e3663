"""Seed 004's sketch routes, on the paths it documented. A sketch is a sketch job (``sketch_service.py``):
``sketch_id`` and ``task_id`` are the job's id, so ``/api/jobs/{id}`` and the job events speak of it too.

The styles and their previews need no sign-in: they describe the product, not anyone's data, and a style
picker can show them before the user signs in.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response, status

from artboard.auth.deps import CurrentUser
from artboard.deps import Db, JobsDep, SettingsDep, SketchesDep
from artboard.engines.sketch import METHODS, STYLES
from artboard.engines.sketch_engine import model_name
from artboard.engines.sketch_preview import style_preview
from artboard.errors import NotFound
from artboard.jobs.replies import SubmitOptionsDep, SubmitReply, finished_in_time
from artboard.jobs.schemas import (
    JobError,
    SketchCreate,
    SketchCreated,
    SketchMethodOut,
    SketchOut,
    SketchStyleOut,
    SketchStylesOut,
    SketchTaskOut,
    Status,
)
from artboard.jobs.sketch_service import Sketch
from artboard.kit.pagination import Page, Pagination
from artboard.library.replies import base_url, image_out
from artboard.models import Job
from artboard.openapi import BODY, errors, image_bytes

router = APIRouter(tags=["sketches"])
PREVIEWS = "/api/sketch/styles"
_JPEG = image_bytes("A JPEG grid: the photo, then each style in each method.", ["image/jpeg"])


def _created(job: Job, _queue_position: int | None) -> dict[str, Any]:
    return SketchCreated(sketch_id=job.id, task_id=job.id, status=job.status).model_dump(mode="json")


@router.post(
    "/api/sketch/create",
    response_model=SketchCreated,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **finished_in_time(SketchCreated),
        **errors(
            *BODY,
            401,
            403,
            404,
            409,
            429,
            notes={
                404: "No image with this `image_id`, or no confirmed upload with this `key`, is yours.",
                409: "The Idempotency-Key was used for another request.",
                429: "Too many of your jobs are waiting.",
            },
        ),
    },
)
async def create_sketch(
    body: SketchCreate, user: CurrentUser, db: Db, sketches: SketchesDep, jobs: JobsDep, options: SubmitOptionsDep
) -> Response:
    """Queue a sketch of one of your images (`image_id`) or of a confirmed direct upload (`key`)."""
    submitted = await sketches.create(
        db,
        user.id,
        style=body.style,
        method=body.method,
        image_id=body.image_id,
        key=body.key,
        idempotency_key=options.idempotency_key,
    )
    return SubmitReply(jobs, submitted, options, _created)


@router.get("/api/sketch/styles/available", response_model=SketchStylesOut)
async def available_styles(request: Request, settings: SettingsDep) -> SketchStylesOut:
    """The styles and methods, with what each does and a preview of each style (no sign-in needed)."""
    base = base_url(request, settings) + PREVIEWS
    return SketchStylesOut(
        styles=[
            SketchStyleOut(
                name=style.name,
                display_name=style.display_name,
                description=style.description,
                model=model_name(style.name),
                preview_url=f"{base}/{style.name.lower()}/preview.jpg",
            )
            for style in STYLES
        ],
        methods=[SketchMethodOut(name=m.name, display_name=m.display_name, description=m.description) for m in METHODS],
        preview_url=f"{base}/preview.jpg",
    )


@router.get(PREVIEWS + "/preview.jpg", response_class=Response, responses=_JPEG)
async def styles_preview() -> Response:
    """One photo drawn in every style and method (the sheet in the docs); no sign-in needed."""
    return _jpeg(await asyncio.to_thread(style_preview))


@router.get(PREVIEWS + "/{style}/preview.jpg", response_class=Response, responses={**_JPEG, **errors(404)})
async def one_style_preview(style: str) -> Response:
    """One photo drawn in one style, in every method; no sign-in needed."""
    name = next((known.name for known in STYLES if known.name.lower() == style.lower()), None)
    if name is None:
        raise NotFound("No sketch style with this name.")
    return _jpeg(await asyncio.to_thread(style_preview, name))


def _jpeg(data: bytes) -> Response:
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/api/sketch/", response_model=Page[SketchOut], responses=errors(401))
@router.get("/api/sketch", response_model=Page[SketchOut], include_in_schema=False)
async def list_sketches(
    request: Request,
    user: CurrentUser,
    db: Db,
    sketches: SketchesDep,
    settings: SettingsDep,
    pagination: Pagination,
    status: Status | None = None,
) -> Page[SketchOut]:
    """Your sketches, newest first, optionally of one status only."""
    rows, total = await sketches.page(db, user.id, pagination, status=status)
    base = base_url(request, settings)
    return Page.of([sketch_out(sketch, base) for sketch in rows], pagination, total)


@router.get("/api/sketch/task/{task_id}", response_model=SketchTaskOut, responses=errors(401, 404))
async def sketch_task(
    task_id: str, request: Request, user: CurrentUser, db: Db, sketches: SketchesDep, settings: SettingsDep
) -> SketchTaskOut:
    """The sketch's task: status, progress, queue position, and the drawing or the error."""
    sketch = await sketches.get(db, user.id, task_id)
    return SketchTaskOut(
        task_id=sketch.job.id,
        status=sketch.job.status,
        progress=sketch.job.progress,
        message=sketch.job.message,
        queue_position=await sketches.position(db, sketch),
        result=image_out(*sketch.output, base_url(request, settings)) if sketch.output else None,
        error=_error(sketch.job),
    )


@router.get("/api/sketch/{sketch_id}", response_model=SketchOut, responses=errors(401, 404))
async def get_sketch(
    sketch_id: str, request: Request, user: CurrentUser, db: Db, sketches: SketchesDep, settings: SettingsDep
) -> SketchOut:
    """One sketch: its style, method and source, its status, and the drawing once done."""
    return sketch_out(await sketches.get(db, user.id, sketch_id), base_url(request, settings))


@router.delete("/api/sketch/{sketch_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 403, 404))
async def delete_sketch(sketch_id: str, user: CurrentUser, db: Db, sketches: SketchesDep) -> Response:
    """Delete a sketch: its job is canceled if it still runs, its drawing and files are deleted."""
    await sketches.delete(db, user.id, sketch_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def sketch_out(sketch: Sketch, base: str) -> SketchOut:
    job = sketch.job
    return SketchOut(
        id=job.id,
        task_id=job.id,
        status=job.status,
        progress=job.progress,
        message=job.message,
        style=sketch.style,
        method=str(sketch.parameters.get("method", "")),
        strength=float(sketch.parameters.get("strength", 1.0)),
        source_image_id=sketch.source_image_id,
        output=image_out(*sketch.output, base) if sketch.output else None,
        error=_error(job),
        created=job.created,
        updated=job.updated,
        finished=job.finished,
    )


def _error(job: Job) -> JobError | None:
    return JobError(code=job.error_code, message=job.error_message or "") if job.error_code else None
